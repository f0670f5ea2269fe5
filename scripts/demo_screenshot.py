"""Save a screenshot of the web demo after one generation (the README's docs/demo.png), taken in headless Chromium.

    PYTHONPATH=. python scripts/demo_screenshot.py [--output docs/demo.png]

It serves the demo on a free port of 127.0.0.1, types the first example into the page, clicks "Generate adapter"
and captures the page once the download link shows. Gradio's files, the adapters and the browser profile live in
one temporary folder, removed at the end; the page may request nothing but the local server.
"""

import argparse
import os
import shutil
import socket
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=os.path.join("docs", "demo.png"), help="Where to write the PNG.")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="t2l-shot-")
    os.environ["GRADIO_TEMP_DIR"] = os.path.join(scratch, "gradio")  # before gradio is imported
    os.environ["MPLCONFIGDIR"] = os.path.join(scratch, "matplotlib")  # gradio imports matplotlib
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from playwright.sync_api import sync_playwright

    from text2lora.commands.generate import quiet_libraries
    from text2lora.demo import EXAMPLES, build_demo, find_chromium, generate_in_page, open_browser

    if find_chromium() is None:
        raise SystemExit("No chromium binary: apt-get install chromium (or set $CHROMIUM).")
    quiet_libraries()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    demo = build_demo(workdir=os.path.join(scratch, "adapters"))
    try:
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
        with sync_playwright() as playwright:
            context, refused = open_browser(playwright, os.path.join(scratch, "browser"), url)
            page = context.new_page()
            description, negative, positive, sentences = EXAMPLES[0]
            generate_in_page(page, url, description, (negative, positive), sentences.splitlines())
            page.get_by_text(f"P({positive})").first.wait_for()
            page.screenshot(path=args.output, full_page=True)
            context.close()
        if refused:
            raise SystemExit(f"The page requested more than the local server: {refused}")
    finally:
        demo.close()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
