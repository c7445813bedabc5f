"""`kerazoo generate`: continue prompts with a trained language model (the
logic is in `kerazoo.generation`; this adds printing)."""

import click

from kerazoo.cli.output import echo_json, echo_table, format_option


@click.command("generate", short_help="Continue prompts with a trained language model.")
@click.argument("target", metavar="RUN_DIR|MODEL")
@click.argument("prompts", metavar="PROMPT...", nargs=-1, required=True)
@click.option("--max-length", "max_length", type=int, default=None,
              help="Most tokens of prompt plus continuation. Default: the model's sequence length.")
@click.option("--top-k", "top_k", type=int, default=5, show_default=True,
              help="Sample among the K most probable next tokens; 1 is greedy decoding.")
@click.option("--temperature", type=float, default=1.0, show_default=True,
              help="Divides the logits before sampling: below 1 is more conservative, above 1 more varied.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the sampling (same seed, same text).")
@format_option("table", "json")
def generate_command(target, prompts, max_length, top_k, temperature, seed, output_format):
    """Continue each PROMPT with the language model of RUN_DIR (a run of a
    text_generation recipe, such as gpt2_small), or a MODEL .keras file
    inside one. Quote each prompt."""
    from kerazoo import generation

    results = generation.generate(
        target, list(prompts), max_length=max_length, top_k=top_k, temperature=temperature, seed=seed
    )
    if output_format == "json":
        echo_json([item.to_dict() for item in results])
        return
    rows = [
        {"prompt": item.prompt, "text": " ".join(item.text.split()), "tokens": item.num_tokens, "stopped": item.stopped}
        for item in results
    ]
    columns = [("prompt", "prompt"), ("text", "generated text"), ("tokens", "new tokens"), ("stopped", "stopped at")]
    echo_table(rows, columns)
