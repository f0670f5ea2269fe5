"""The default path (method="auto"): route each description to the denoiser or the head generator, on tiny models."""

import json
import os
import shutil

import numpy as np
import pytest
import torch


@pytest.fixture()
def routed(head_generator, tmp_path):
    """A copy of the tiny generator with a head, with a routing threshold between the cosines of a seen task's
    description and of an unrelated one; returns (folder, descriptions, their cosines)."""
    from text2lora.pipelines import Text2LoraPipeline
    from text2lora.pipelines.loading import set_routing_threshold

    folder = str(tmp_path / "routed")
    shutil.copytree(head_generator[1], folder)
    pipe = Text2LoraPipeline.from_pretrained(folder)
    assert pipe.denoiser.has_condition_anchors and not pipe.can_route
    descriptions = ["detect good texts", "zebra quantum violin"]
    similarity, nearest = pipe.nearest_seen_task(pipe.encode_prompt(descriptions))
    assert similarity[0] > similarity[1] and nearest[0] == "good_task"
    set_routing_threshold(folder, (similarity[0] + similarity[1]) / 2)
    return folder, descriptions, similarity, nearest


def test_auto_takes_each_adapter_from_the_method_it_routes_to(routed):
    from text2lora.pipelines import Text2LoraPipeline

    folder, descriptions, similarity, nearest = routed
    pipe = Text2LoraPipeline.from_pretrained(folder)
    assert pipe.can_route and pipe.config.routing_threshold == pytest.approx((similarity[0] + similarity[1]) / 2)
    seed = torch.Generator().manual_seed(3)
    auto = pipe(descriptions, num_inference_steps=2, num_adapters_per_prompt=2, generator=seed)
    diffusion = pipe(descriptions, num_inference_steps=2, num_adapters_per_prompt=2,
                     generator=torch.Generator().manual_seed(3), method="diffusion")
    head = pipe(descriptions, num_adapters_per_prompt=2, method="hypernetwork")
    # Description 0 is close to a seen task: the denoiser's adapters, equal to method="diffusion" in the same call;
    # description 1 is not: the head generator's.
    torch.testing.assert_close(auto.vectors[:2], diffusion.vectors[:2], rtol=0, atol=0)
    torch.testing.assert_close(auto.vectors[2:], head.vectors[2:], rtol=0, atol=0)
    assert auto.methods == ["diffusion", "diffusion", "hypernetwork", "hypernetwork"]
    assert auto.snapped_tasks == ["good_task", "good_task", None, None]
    assert auto.labels[0] == ["not good", "good"] and auto.labels[2] == head.labels[2]
    first, last = auto.generation_configs[0], auto.generation_configs[2]
    assert first["method"] == "diffusion" and first["seed"] == 3 and first["snapped_to_task"] == "good_task"
    assert last["method"] == "hypernetwork" and "seed" not in last and "snapped_to_task" not in last
    for config, s, task in ((first, similarity[0], nearest[0]), (last, similarity[1], nearest[1])):
        assert config["routing"] == {"method": "auto", "nearest_seen_task": task, "similarity": round(s, 4),
                                     "threshold": pipe.config.routing_threshold}


def test_auto_without_a_threshold_samples_the_denoiser(head_generator):
    from text2lora.pipelines import Text2LoraPipeline

    pipe = Text2LoraPipeline.from_pretrained(head_generator[1])
    assert pipe.config.routing_threshold is None and not pipe.can_route
    auto = pipe("zebra quantum violin", num_inference_steps=2, generator=torch.Generator().manual_seed(1))
    diffusion = pipe("zebra quantum violin", num_inference_steps=2, generator=torch.Generator().manual_seed(1),
                     method="diffusion")
    torch.testing.assert_close(auto.vectors, diffusion.vectors, rtol=0, atol=0)
    assert auto.generation_configs == diffusion.generation_configs and auto.methods == ["diffusion"]
    with pytest.raises(ValueError, match="does not route"):
        pipe.route(pipe.encode_prompt(["x"]))


def test_auto_refuses_what_it_cannot_route(routed):
    from text2lora.pipelines import Text2LoraPipeline

    pipe = Text2LoraPipeline.from_pretrained(routed[0])
    with pytest.raises(ValueError, match="precomputed condition"):
        pipe(["_"], condition=torch.zeros(1, 32))
    with pytest.raises(ValueError, match="snaps"):
        pipe("detect good texts", snap_to_seen_tasks=False)


def test_set_routing_threshold_checks_its_input(routed, tmp_path):
    from text2lora.pipelines import Text2LoraPipeline
    from text2lora.pipelines.loading import set_routing_threshold

    folder = routed[0]
    weights = sorted(os.listdir(os.path.join(folder, "denoiser")))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        set_routing_threshold(folder, 1.5)
    with pytest.raises(ValueError, match="model_index.json is missing"):
        set_routing_threshold(tmp_path / "nothing", 0.5)
    set_routing_threshold(folder, None)
    assert json.load(open(os.path.join(folder, "model_index.json")))["routing_threshold"] is None
    assert not Text2LoraPipeline.from_pretrained(folder).can_route
    assert sorted(os.listdir(os.path.join(folder, "denoiser"))) == weights
    pipe = Text2LoraPipeline.from_pretrained(folder)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        Text2LoraPipeline(pipe.denoiser, pipe.scheduler, routing_threshold=2.0)


def test_generate_cli_names_and_records_the_routed_method(routed, tmp_path, monkeypatch, capsys):
    from text2lora.commands import generate

    folder, descriptions, _, _ = routed
    monkeypatch.chdir(tmp_path)
    written = generate.main(["--task", descriptions[0], "--task", descriptions[1], "--generator", folder,
                             "--num_inference_steps", "2", "--output_dir", "out"])
    printed = capsys.readouterr().out
    assert [os.path.basename(w[1]) for w in written] == ["detect-good-texts-auto-seed0",
                                                         "zebra-quantum-violin-auto-seed0"]
    configs = [json.load(open(os.path.join(w[1], "generation_config.json"))) for w in written]
    assert [c["method"] for c in configs] == ["diffusion", "hypernetwork"]
    assert all(c["routing"]["method"] == "auto" for c in configs)
    assert f"(conditioned on the seen task {configs[0]['snapped_to_task']!r})" in printed
    assert (f"(a new task: cosine {configs[1]['routing']['similarity']:.2f} to the nearest seen task "
            f"{configs[1]['routing']['nearest_seen_task']!r} < {configs[1]['routing']['threshold']}") in printed
    card = open(os.path.join(written[1][1], "README.md")).read()
    assert (f"| Chosen by | `method=\"auto\"`: cosine {configs[1]['routing']['similarity']} to the nearest seen task "
            f"`{configs[1]['routing']['nearest_seen_task']}` < routing threshold") in card
    assert "--method hypernetwork" in card  # the reproduce command names the method the adapter was routed to
    with pytest.raises(ValueError, match="--no_snap applies to --method diffusion"):
        generate.main(["--task", "x", "--generator", folder, "--no_snap", "--output_dir", "out2"])


def test_question_rows_score_auto_exactly_as_the_pipeline_routes(routed, tiny_zoo, tiny_tasks):
    """auto_keys reads each description's score from the method it is routed to; scoring the pipeline's own
    method="auto" adapters gives the same numbers."""
    from text2lora.data.zoo import Zoo
    from text2lora.evaluation import Evaluator
    from text2lora.evaluation.questions import auto_keys
    from text2lora.pipelines import Text2LoraPipeline

    folder, descriptions, _, _ = routed
    pipe = Text2LoraPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    evaluator = Evaluator(Zoo.load(tiny_zoo), pipe, num_inference_steps=2, seed=4)
    task = tiny_tasks[3]
    row = evaluator.evaluate_task(task, descriptions, include_head=False)
    row.update(evaluator.evaluate_head(task, descriptions))
    keys = auto_keys(evaluator, row)
    assert keys["auto_to_diffusion"] == 0.5
    assert keys["auto_per_description"] == [row["generated_per_description"][0], row["hypernetwork_per_description"][1]]
    out = pipe(descriptions, num_inference_steps=2, generator=torch.Generator().manual_seed(4), output_type="vector")
    direct = [evaluator.score_vector(v, task) for v in out.vectors]
    assert keys["auto_per_description"] == direct and keys["auto"] == pytest.approx(float(np.mean(direct)))
