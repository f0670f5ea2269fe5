"""A web demo (Gradio): a task description in, a LoRA adapter out, tried on your sentences and downloadable as a zip.

    pip install -e ".[demo]" && python app.py

It loads the generator once (default: the shipped one) and runs on CPU, offline. Each generation writes its adapter
through ``Text2LoraPipeline.save_adapter`` into a fresh folder under a temporary folder the demo owns (removed when
the process exits). ``generate_adapter`` and ``try_sentences`` are the only places that call the pipeline and the
classifier.
"""

import atexit
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Optional

MAX_SENTENCES = 32
KEEP_RECENT = 8  # request folders kept in the demo's folder; older ones are removed
EXAMPLES = [
    ["detect clickbait headlines", "news", "clickbait",
     "You won't believe what this dog did next\nSenate passes the annual budget after a long debate"],
    ["is this question asking about a location?", "other", "location",
     "Where is the Eiffel Tower?\nWho wrote Hamlet?"],
    ["is this text angry?", "calm", "angry",
     "I am so furious, this is unacceptable!\nWhat a calm and lovely morning"],
]


@dataclass
class DemoArguments:
    """The flags of ``app.py``."""

    generator: Optional[str] = field(default=None, metadata={
        "help": "Generator directory or Hub id (default: the shipped one)."})
    server_name: Optional[str] = field(default=None, metadata={
        "help": "Address to listen on (default: Gradio's, 127.0.0.1 or $GRADIO_SERVER_NAME)."})
    server_port: Optional[int] = field(default=None, metadata={
        "help": "Port (default: Gradio's, 7860 or $GRADIO_SERVER_PORT)."})
    num_inference_steps: int = field(default=25, metadata={"help": "Sampling steps."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    verbose: bool = field(default=False, metadata={
        "help": "Show the libraries' warnings, load reports and progress bars (hidden by default)."})

    def __post_init__(self):
        if self.num_inference_steps < 1:
            raise ValueError(f"--num_inference_steps must be >= 1, got {self.num_inference_steps}.")


def label_names(negative=None, positive=None):
    """The names of label 0 and label 1 the user typed (stripped), or ``None`` when both are blank: the library then
    names them from the matched task or the description (:mod:`text2lora.labels`)."""
    from .labels import check_labels

    names = [(name or "").strip() for name in (negative, positive)]
    if not any(names):
        return None
    if not all(names):
        raise ValueError("Name both labels, or leave both blank to have them named from the description.")
    return check_labels(names)


def sentence_lines(text):
    """The non-blank lines of ``text``, stripped (at most ``MAX_SENTENCES``)."""
    sentences = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(sentences) > MAX_SENTENCES:
        raise ValueError(f"At most {MAX_SENTENCES} sentences at a time; got {len(sentences)}.")
    return sentences


def generate_adapter(pipe, description, labels, workdir, seed=0, num_inference_steps=25):
    """Generate the adapter for ``description`` and save it under ``workdir`` with the pipeline's own generation
    config (the card and config ``generate.py`` writes for the same call); returns (adapter folder, the seen task the
    description was snapped to or ``None``). ``labels``: names of label 0 and 1, or ``None`` to derive them."""
    import torch

    from .pipelines import adapter_folder_name

    if not description or not description.strip():
        raise ValueError("Describe the task first, e.g. \"detect clickbait headlines\".")
    description = description.strip()
    out = pipe(description, num_inference_steps=num_inference_steps, generator=torch.Generator().manual_seed(seed),
               labels=labels)
    snapped = out.snapped_tasks[0] if out.snapped_tasks is not None else None
    target = os.path.join(workdir, adapter_folder_name(description, "auto", seed))
    pipe.save_adapter(out.adapters[0], target, generation_config=out.generation_configs[0])
    return target, snapped


def try_sentences(adapter_dir, sentences):
    """Classify ``sentences`` with the adapter in ``adapter_dir`` loaded by plain PEFT on its base model
    (:func:`text2lora.inference.load_classifier`); returns one {label name: probability} per sentence (label 0
    first)."""
    from .inference import classify, load_classifier

    if not sentences:
        return []
    model, tokenizer = load_classifier(adapter_dir)
    return classify(list(sentences), model, tokenizer)


def zip_adapter(adapter_dir):
    """Zip ``adapter_dir`` (the folder itself at the top of the archive) beside it; returns the zip's path."""
    parent, name = os.path.split(os.path.normpath(adapter_dir))
    return shutil.make_archive(os.path.join(parent, name), "zip", root_dir=parent, base_dir=name)


def results_table(sentences, results):
    """Rows of (sentence, predicted label, probability of each label) and their headers."""
    names = list(results[0]) if results else ["label 0", "label 1"]
    headers = ["sentence", "label"] + [f"P({name})" for name in names]
    rows = [[sentence, max(probs, key=probs.get)] + [round(probs[name], 3) for name in names]
            for sentence, probs in zip(sentences, results)]
    return rows, headers


def snapped_note(description, snapped):
    """Markdown saying which seen task the adapter was conditioned on (none: a new task, written from the
    description itself)."""
    if snapped is None:
        return (f"A new task: no seen task is close enough, so the adapter was written from the description itself: "
                f"*{description.strip()}*.")
    return (f"Conditioned on the seen task **`{snapped}`**: the generator snapped the description to the training "
            f"task it is closest to.")


def _prune(workdir, keep):
    """Remove all but the ``keep`` newest request folders of ``workdir``."""
    folders = sorted((os.path.join(workdir, n) for n in os.listdir(workdir)), key=os.path.getmtime, reverse=True)
    for path in folders[keep:]:
        shutil.rmtree(path, ignore_errors=True)


def build_demo(pipe=None, workdir=None, seed=0, num_inference_steps=25):
    """The Gradio app (a ``gr.Blocks``; call ``.launch()``). ``pipe``: a loaded :class:`Text2LoraPipeline` (default:
    the shipped generator on CPU); ``workdir``: where adapters are written (default: a temporary folder removed at
    exit)."""
    import gradio as gr

    from .pipelines import load_generator

    if pipe is None:
        pipe = load_generator(None, "cpu")
    if workdir is None:
        workdir = tempfile.mkdtemp(prefix="text2lora-demo-")
        atexit.register(shutil.rmtree, workdir, True)
    os.makedirs(workdir, exist_ok=True)

    def run(description, negative, positive, sentences_text):
        try:
            labels = label_names(negative, positive)
            sentences = sentence_lines(sentences_text)
            _prune(workdir, KEEP_RECENT - 1)
            request_dir = tempfile.mkdtemp(dir=workdir)
            adapter_dir, snapped = generate_adapter(pipe, description, labels, request_dir, seed=seed,
                                                    num_inference_steps=num_inference_steps)
            results = try_sentences(adapter_dir, sentences)
        except ValueError as err:
            raise gr.Error(str(err), print_exception=False) from None  # bad input: no traceback
        rows, headers = results_table(sentences, results)
        return (gr.Dataframe(value=rows, headers=headers, visible=bool(rows)), snapped_note(description, snapped),
                zip_adapter(adapter_dir))

    with gr.Blocks(title="text2lora", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# text2lora\nDescribe a binary text classification task; text2lora generates a LoRA adapter "
                    "for `sentence-transformers/all-MiniLM-L6-v2` from the description alone (no data, no "
                    "training), tries it on your sentences and lets you download it.")
        with gr.Row():
            with gr.Column():
                description = gr.Textbox(label="Task description", placeholder="detect clickbait headlines")
                with gr.Row():
                    negative = gr.Textbox(label="Label 0 name (optional)", placeholder="not clickbait")
                    positive = gr.Textbox(label="Label 1 name (optional)", placeholder="clickbait")
                sentences = gr.Textbox(label="Sentences to try, one per line", lines=4)
                button = gr.Button("Generate adapter", variant="primary")
            with gr.Column():
                _, headers = results_table([], [])
                table = gr.Dataframe(label="Predictions", headers=headers, interactive=False, wrap=True,
                                     column_widths=["42%", "16%", "21%", "21%"])
                note = gr.Markdown()
                download = gr.File(label="Adapter (PEFT folder, zipped)")
        gr.Examples(EXAMPLES, [description, negative, positive, sentences])
        # One event for the button and Enter, one run at a time: the pipeline's scheduler holds per-run state.
        gr.on([button.click, description.submit], run, [description, negative, positive, sentences],
              [table, note, download], concurrency_limit=1)
    return demo


# -- a headless browser, for the browser test and scripts/demo_screenshot.py ----------------------------------
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium():
    """The Chromium binary (``$CHROMIUM``, else ``chromium`` on the PATH, as Debian's package installs it), or
    ``None``."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def open_browser(playwright, home, server_url, executable=None):
    """A headless Chromium (playwright's ``BrowserContext``) with a fresh profile under ``home``, which is also its
    HOME and holds its TMPDIR, so it writes nowhere else (keep ``home`` short: Chromium's socket path there must
    fit in 107 characters); only requests to ``server_url`` go out. Returns (context, the URLs it refused)."""
    home = os.path.abspath(home)
    os.makedirs(os.path.join(home, "tmp"), exist_ok=True)
    env = dict(os.environ, HOME=home, TMPDIR=os.path.join(home, "tmp"), XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"))
    context = playwright.chromium.launch_persistent_context(
        os.path.join(home, "profile"), executable_path=executable or find_chromium(), args=CHROMIUM_ARGS,
        headless=True, env=env, viewport={"width": 1280, "height": 900})
    refused = []

    def only_the_server(route):
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    return context, refused


def generate_in_page(page, server_url, description, labels=("", ""), sentences=(), timeout_s=120):
    """Open the demo at ``server_url``, fill in the form, click "Generate adapter" and wait for the download link."""
    page.goto(server_url)
    page.get_by_label("Task description").fill(description)
    page.get_by_label("Label 0 name (optional)").fill(labels[0])
    page.get_by_label("Label 1 name (optional)").fill(labels[1])
    page.get_by_label("Sentences to try, one per line").fill("\n".join(sentences))
    page.get_by_role("button", name="Generate adapter").click()
    page.locator("a[download]").first.wait_for(timeout=timeout_s * 1000)


def parse_args(argv=None):
    """The :class:`DemoArguments` of ``argv`` (default: ``sys.argv[1:]``)."""
    from .cli import parse_dataclasses

    (args,) = parse_dataclasses(DemoArguments, argv, description=__doc__)
    return args


def main(argv=None):
    """Load the generator once and serve the demo until interrupted."""
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ValueError("The demo needs Gradio: pip install -e \".[demo]\"") from None
    if not args.verbose:
        from .commands.generate import quiet_libraries

        quiet_libraries()
    from .pipelines import load_generator

    pipe = load_generator(args.generator, "cpu")
    workdir = tempfile.mkdtemp(prefix="text2lora-demo-")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # a plain kill cleans up too
    try:
        demo = build_demo(pipe, workdir=workdir, seed=args.seed, num_inference_steps=args.num_inference_steps)
        demo.launch(server_name=args.server_name, server_port=args.server_port)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run():
    """The ``text2lora-demo`` console script."""
    from .cli import run_cli

    run_cli(main)
