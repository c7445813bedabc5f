"""Generate text with a trained causal language model (a `text_generation`
run): the prompt is tokenized with the run's own tokenizer, then one token is
chosen at a time from the model's float32 logits until the end token or
`max_length` tokens.

Sampling is top-k (keras-hub's default for its causal language models, with
k = 5) at a temperature, from a seeded generator, so the same call gives the
same text; `top_k=1` is greedy decoding. The model takes a fixed context of
`sequence_length` tokens: a longer text keeps its last `sequence_length`
tokens in view. Each step runs the whole context (no key/value cache), which
is simple and fine for the small models and short texts this is for.
"""

import dataclasses
import numbers
import weakref

from kerazoo import inference
from kerazoo.errors import UsageError

DEFAULT_TOP_K = 5
DEFAULT_TEMPERATURE = 1.0
# One decoder per loaded model: its tokenizer and predict step are traced
# once, so calling `run.generate` again is fast.
_decoders = weakref.WeakKeyDictionary()


@dataclasses.dataclass
class Generation:
    """One prompt and what the model wrote after it.

    Attributes:
        prompt: the prompt, as given.
        text: prompt and continuation, decoded together (byte-level BPE gives
            the prompt back exactly; WordPiece lowercases and respaces it).
        continuation: the generated part alone.
        num_tokens: tokens generated.
        stopped: `end_token` (the model ended the text) or `max_length`.
    """

    prompt: str
    text: str
    continuation: str
    num_tokens: int
    stopped: str

    def to_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        return self.text


def generate(target, prompt, max_length=None, top_k=DEFAULT_TOP_K, temperature=DEFAULT_TEMPERATURE, seed=0):
    """Continue `prompt` with a trained language model.

    Args:
        target: a `Run`, a run directory, or its `model.keras` file.
        prompt: a text, or a list of texts (each continued on its own).
        max_length: the most tokens of prompt plus continuation (as
            keras-hub's `CausalLM.generate`); default: the model's sequence
            length.
        top_k: sample among the k most probable next tokens; 1 is greedy.
        temperature: divides the logits before sampling; below 1 is more
            conservative, above 1 more varied.
        seed: seeds the sampling.

    Returns:
        A `Generation`, or a list of them for a list of prompts.
    """
    many = not isinstance(prompt, str)
    prompts = [str(item) for item in prompt] if many else [prompt]
    if not prompts:
        raise UsageError("Nothing to generate from: give at least one prompt.")
    _check_positive_integer("top_k (--top-k)", top_k)
    if max_length is not None:
        _check_positive_integer("max_length (--max-length)", max_length)
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise UsageError(f"temperature (--temperature) must be a number above 0, got {temperature!r}.")
    run = inference.open_run(target)
    preprocessing = inference.read_preprocessing(run.directory)
    if preprocessing.get("task") != "text_generation":
        raise UsageError(
            f"'{run.directory}' holds a classifier (task '{preprocessing.get('task')}'), not a language model: "
            f"'generate' needs a run of a text_generation recipe. Use 'kerazoo predict {run.directory} INPUT...' "
            "for classes."
        )
    model = run.model
    decoder = _decoders.get(model)
    if decoder is None:
        preprocessor = inference.text_preprocessor(run.directory, add_end=False)
        decoder = _decoders[model] = _Decoder(model, preprocessor, preprocessing["sequence_length"])
    results = [
        decoder.generate(text, max_length or sequence_length, top_k, float(temperature), seed) for text in prompts
    ]
    return results if many else results[0]


class _Decoder:
    """One model and tokenizer, stepped one token at a time."""

    def __init__(self, model, preprocessor, sequence_length):
        import numpy as np

        tokenizer = preprocessor.tokenizer
        self.preprocessor = preprocessor
        self.sequence_length = sequence_length
        self.start_id = tokenizer.token_id(tokenizer.special.start)
        self.end_id = tokenizer.token_id(tokenizer.special.end)
        self.pad_id = tokenizer.token_id(tokenizer.special.pad)
        self.never = np.array(
            [tokenizer.token_id(token) for token in tokenizer.special.reserved if token != tokenizer.special.end],
            dtype=np.int64,
        )
        # Keras compiles its predict step once (tf.function, or jit on JAX)
        # and reuses it for every token.
        self.forward = model.predict_on_batch

    def generate(self, prompt, max_length, top_k, temperature, seed):
        import numpy as np

        prompt_ids = self.preprocessor.encode(prompt)
        if len(prompt_ids) >= max_length:
            raise UsageError(
                f"The prompt is already {len(prompt_ids)} tokens, and max_length is {max_length}: nothing left to "
                f"generate. Pass a larger --max-length or a shorter prompt."
            )
        rng = np.random.default_rng(seed)
        ids = [self.start_id, *prompt_ids]
        generated = []
        stopped = "max_length"
        while len(prompt_ids) + len(generated) < max_length:
            window = ids[-self.sequence_length:]
            token_ids = np.full((1, self.sequence_length), self.pad_id, dtype=np.int32)
            token_ids[0, :len(window)] = window
            mask = np.zeros((1, self.sequence_length), dtype=np.int32)
            mask[0, :len(window)] = 1
            logits = self.forward({"token_ids": token_ids, "padding_mask": mask})
            next_id = self._choose(np.asarray(logits[0, len(window) - 1], dtype="float64"), top_k, temperature, rng)
            if next_id == self.end_id:
                stopped = "end_token"
                break
            ids.append(next_id)
            generated.append(next_id)
        return Generation(
            prompt=prompt,
            text=self.preprocessor.decode(prompt_ids + generated),
            continuation=self.preprocessor.decode(generated),
            num_tokens=len(generated),
            stopped=stopped,
        )

    def _choose(self, logits, top_k, temperature, rng):
        import numpy as np

        logits = logits.copy()
        logits[self.never] = -np.inf  # start, padding and other reserved tokens are never text
        candidates = np.argsort(-logits, kind="stable")[:top_k]
        candidates = candidates[np.isfinite(logits[candidates])]
        if len(candidates) == 1:
            return int(candidates[0])
        scaled = logits[candidates] / temperature
        weights = np.exp(scaled - scaled.max())
        return int(rng.choice(candidates, p=weights / weights.sum()))


def _check_positive_integer(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise UsageError(f"{name} must be a whole number of 1 or more, got {value!r}.")
