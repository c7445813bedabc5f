"""Tokenizers for text recipes, trained offline from the training split (no
vocabulary is downloaded), saved in the run directory, and the preprocessor
that packs token ids the way the models expect.

Two kinds (`data.tokenizer` in a recipe):

- `wordpiece` (BERT's family): trained with keras-hub's
  `compute_word_piece_vocabulary`; saved as `vocabulary.txt`, one token per
  line, the line number is the id.
- `byte_bpe` (RoBERTa's and GPT-2's): byte-level BPE trained with the
  `tokenizers` package (keras-hub trains WordPiece and SentencePiece but not
  BPE, DESIGN.md), with GPT-2's pre-tokenization; saved as `vocabulary.json`
  ({token: id}) and `merges.txt` (one merge per line, by rank), the files
  `keras_hub.tokenizers.BytePairTokenizer` and Hugging Face load.

Tokenization always runs on keras-hub's TensorFlow path (inside
`tf.function`), in training, prediction and generation alike: keras-hub's
eager Python path splits words with another regular expression (Llama 3's),
which would give different ids for the same text.
"""

import dataclasses
import json
import pathlib
from typing import Optional

KINDS = ("wordpiece", "byte_bpe")
VOCABULARY_FILE = "vocabulary.txt"  # wordpiece
BPE_VOCABULARY_FILE = "vocabulary.json"  # byte_bpe
MERGES_FILE = "merges.txt"  # byte_bpe
RESERVED_TOKENS = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
# The inputs a BERT-style model takes when a run recorded none (runs written
# before text recipes had other builders).
DEFAULT_INPUTS = ("token_ids", "segment_ids", "padding_mask")


@dataclasses.dataclass(frozen=True)
class SpecialTokens:
    """Where a sequence starts, ends and pads, and every reserved token (the
    first ids of the vocabulary, in this order)."""

    start: str
    end: str
    pad: str
    reserved: tuple


# BERT: [CLS] text [SEP] [PAD]...
WORDPIECE_SPECIAL = SpecialTokens("[CLS]", "[SEP]", "[PAD]", tuple(RESERVED_TOKENS))
# RoBERTa (fairseq's dictionary order): <s> text </s> <pad>...
ROBERTA_SPECIAL = SpecialTokens("<s>", "</s>", "<pad>", ("<s>", "<pad>", "</s>", "<unk>", "<mask>"))
# GPT-2: one token marks both ends of a text, and pads (padding is masked).
GPT2_SPECIAL = SpecialTokens("<|endoftext|>", "<|endoftext|>", "<|endoftext|>", ("<|endoftext|>",))


def special_tokens(kind, task):
    """The special tokens of a tokenizer `kind` for a card `task`."""
    if kind == "wordpiece":
        return WORDPIECE_SPECIAL
    return GPT2_SPECIAL if task == "text_generation" else ROBERTA_SPECIAL


@dataclasses.dataclass(frozen=True)
class TrainedTokenizer:
    """A vocabulary (and BPE merges) trained for one run.

    Attributes:
        kind: `wordpiece` or `byte_bpe`.
        vocabulary: every token, in id order.
        merges: `byte_bpe` only: "left right" merge rules by rank.
        lowercase: lowercase texts before tokenizing.
        special: the start, end and padding tokens.
    """

    kind: str
    vocabulary: tuple
    merges: Optional[tuple]
    lowercase: bool
    special: SpecialTokens

    def __len__(self):
        return len(self.vocabulary)

    @property
    def files(self):
        """The file names this tokenizer is saved as."""
        return [VOCABULARY_FILE] if self.kind == "wordpiece" else [BPE_VOCABULARY_FILE, MERGES_FILE]

    def save(self, directory):
        """Write the vocabulary (and merges) into `directory`; returns the paths."""
        directory = pathlib.Path(directory)
        if self.kind == "wordpiece":
            path = directory / VOCABULARY_FILE
            path.write_text("\n".join(self.vocabulary) + "\n", encoding="utf-8")
            return [path]
        vocabulary_path = directory / BPE_VOCABULARY_FILE
        vocabulary_path.write_text(
            json.dumps({token: index for index, token in enumerate(self.vocabulary)}, ensure_ascii=False),
            encoding="utf-8",
        )
        merges_path = directory / MERGES_FILE
        merges_path.write_text("".join(f"{merge}\n" for merge in self.merges), encoding="utf-8")
        return [vocabulary_path, merges_path]

    def record(self):
        """What `preprocessing.json` says about this tokenizer (see `load`)."""
        return {
            "tokenizer": self.kind,
            "tokenizer_files": self.files,
            "lowercase": self.lowercase,
            "start_token": self.special.start,
            "end_token": self.special.end,
            "pad_token": self.special.pad,
            "reserved_tokens": list(self.special.reserved),
        }

    def token_id(self, token):
        return self.vocabulary.index(token)

    def keras_hub_tokenizer(self):
        """The keras-hub tokenizer layer: strings -> ragged token ids."""
        import keras_hub

        if self.kind == "wordpiece":
            return keras_hub.models.BertTokenizer(vocabulary=list(self.vocabulary), lowercase=self.lowercase)
        return keras_hub.tokenizers.BytePairTokenizer(
            vocabulary={token: index for index, token in enumerate(self.vocabulary)},
            merges=list(self.merges),
            unsplittable_tokens=list(self.special.reserved),
        )


def from_preset(preset, task):
    """The tokenizer of a keras-hub preset (a local directory or a hub name):
    pretrained weights come with the vocabulary they were trained on."""
    import keras_hub

    from kerazoo.errors import UsageError

    local = pathlib.Path(str(preset)).expanduser()
    source = str(local.resolve()) if local.is_dir() else str(preset)
    try:
        hub_tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(source)
    except Exception as error:  # network, hub and format errors all end here
        raise UsageError(
            f"Could not load the tokenizer of preset '{preset}' ({type(error).__name__}: {str(error)[:200]}). "
            "Pretrained text weights need the vocabulary they were trained with: save the preset's tokenizer "
            "beside its backbone (tokenizer.save_to_preset(dir)), or, offline, copy a saved preset directory here."
        ) from None
    vocabulary = tuple(hub_tokenizer.get_vocabulary())
    if isinstance(hub_tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
        reserved = tuple(token for token in RESERVED_TOKENS if token in vocabulary)
        special = SpecialTokens("[CLS]", "[SEP]", "[PAD]", reserved)
        return TrainedTokenizer("wordpiece", vocabulary, None, bool(hub_tokenizer.lowercase), special)
    if isinstance(hub_tokenizer, keras_hub.tokenizers.BytePairTokenizer):
        special = special_tokens("byte_bpe", task)
        return TrainedTokenizer("byte_bpe", vocabulary, tuple(hub_tokenizer.merges), False, special)
    raise UsageError(
        f"Preset '{preset}' has a {type(hub_tokenizer).__name__}; kerazoo's text recipes use WordPiece or "
        "byte-level BPE tokenizers."
    )


def train(kind, texts, vocabulary_size, lowercase, special):
    """Learn a tokenizer of at most `vocabulary_size` tokens from `texts`.

    Args:
        kind: `wordpiece` or `byte_bpe`.
        texts: the training split's texts.
        vocabulary_size: the largest vocabulary to learn (a small corpus
            gives fewer tokens).
        lowercase: lowercase (and for WordPiece, strip accents) first.
        special: the `SpecialTokens`, placed at the first ids.
    """
    if kind == "wordpiece":
        vocabulary = train_wordpiece(texts, vocabulary_size, lowercase, reserved_tokens=list(special.reserved))
        return TrainedTokenizer(kind, tuple(vocabulary), None, lowercase, special)
    vocabulary, merges = train_byte_bpe(texts, vocabulary_size, lowercase, list(special.reserved))
    return TrainedTokenizer(kind, tuple(vocabulary), tuple(merges), lowercase, special)


def train_wordpiece(texts, vocabulary_size, lowercase, reserved_tokens=None):
    """Learn a WordPiece vocabulary of at most `vocabulary_size` tokens."""
    import keras_hub
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024)
    return keras_hub.tokenizers.compute_word_piece_vocabulary(
        dataset,
        vocabulary_size=vocabulary_size,
        lowercase=lowercase,
        strip_accents=lowercase,
        reserved_tokens=reserved_tokens or RESERVED_TOKENS,
    )


def train_byte_bpe(texts, vocabulary_size, lowercase, reserved_tokens):
    """Learn a byte-level BPE vocabulary and its merges with `tokenizers`.

    GPT-2's pre-tokenization (its regular expression, no prefix space) and
    all 256 byte symbols in the alphabet, so no text is ever unknown; pairs
    seen once are not merged (min_frequency 2, as Hugging Face's RoBERTa
    training example).

    Returns:
        (tokens in id order, merges as "left right" strings by rank).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocabulary_size,
        min_frequency=2,
        special_tokens=list(reserved_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = [text.lower() for text in texts] if lowercase else list(texts)
    tokenizer.train_from_iterator(texts, trainer, length=len(texts))
    model = json.loads(tokenizer.to_str())["model"]
    by_id = sorted(model["vocab"].items(), key=lambda item: item[1])
    vocabulary = [token for token, _ in by_id]
    # `tokenizers` 0.20+ writes merges as pairs, older versions as "a b".
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model["merges"]]
    if not merges:
        from kerazoo.errors import DataError

        raise DataError(
            f"The {len(texts)} training text(s) repeat no pair of symbols, so byte-level BPE learned no merge. "
            "Train on more text."
        )
    return vocabulary, merges


def load(directory, record=None):
    """The tokenizer a run saved.

    Args:
        directory: the run directory (or an export folder with the files).
        record: the run's `preprocessing.json` as a dict; None reads it
            from `directory`. Runs that recorded no tokenizer used WordPiece.

    Raises:
        UsageError: a tokenizer file is missing.
    """
    from kerazoo.errors import UsageError

    directory = pathlib.Path(directory)
    if record is None:
        path = directory / "preprocessing.json"
        record = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    kind = record.get("tokenizer", "wordpiece")
    lowercase = record.get("lowercase", True)
    special = WORDPIECE_SPECIAL if kind == "wordpiece" else None
    if "start_token" in record:
        special = SpecialTokens(
            record["start_token"], record["end_token"], record["pad_token"], tuple(record.get("reserved_tokens", ()))
        )
    names = [VOCABULARY_FILE] if kind == "wordpiece" else [BPE_VOCABULARY_FILE, MERGES_FILE]
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise UsageError(
            f"'{directory}' has no {' or '.join(missing)}: the {kind} tokenizer this run trained with is "
            "missing. Copy it back from the run directory, or train again."
        )
    if kind == "wordpiece":
        vocabulary = (directory / VOCABULARY_FILE).read_text(encoding="utf-8").splitlines()
        return TrainedTokenizer(kind, tuple(vocabulary), None, lowercase, special)
    ids = json.loads((directory / BPE_VOCABULARY_FILE).read_text(encoding="utf-8"))
    vocabulary = [token for token, _ in sorted(ids.items(), key=lambda item: item[1])]
    merges = [line for line in (directory / MERGES_FILE).read_text(encoding="utf-8").splitlines()
              if line and not line.startswith("#version")]
    return TrainedTokenizer(kind, tuple(vocabulary), tuple(merges), lowercase, special)


def load_vocabulary(directory):
    """The tokens of the tokenizer a run saved, in id order (any kind)."""
    return list(load(directory).vocabulary)


class TextPreprocessor:
    """Strings in; {token_ids, padding_mask} (plus all-zero `segment_ids`
    when the model takes them) out: the start token, the text's tokens and
    the end token, cut and padded to `sequence_length`.

    Args:
        tokenizer: a `TrainedTokenizer`.
        sequence_length: tokens per example, the start and end included.
        input_names: the model's inputs to return, in any order.
        add_end: end each text with the end token (a language model's
            training texts do; a prompt to continue does not).
    """

    def __init__(self, tokenizer, sequence_length, input_names=DEFAULT_INPUTS, add_end=True):
        import keras_hub
        import tensorflow as tf

        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.input_names = tuple(input_names)
        self.add_end = add_end
        self._tokenize = tokenizer.keras_hub_tokenizer()
        self._packer = keras_hub.layers.StartEndPacker(
            sequence_length=sequence_length,
            start_value=tokenizer.token_id(tokenizer.special.start),
            end_value=tokenizer.token_id(tokenizer.special.end),
            pad_value=tokenizer.token_id(tokenizer.special.pad),
            return_padding_mask=True,
        )
        # keras-hub's TensorFlow path for every caller (see above), traced
        # once per preprocessor: tracing byte-level BPE takes seconds.
        strings = [tf.TensorSpec([None], tf.string)]
        self._encode = tf.function(self._tokenize_batch, input_signature=strings)
        self._pack = tf.function(self._pack_batch, input_signature=strings)
        self._decode = None  # traced on first use

    def _pack_batch(self, texts):
        import tensorflow as tf

        token_ids, mask = self._packer(self._encode(texts), add_end_value=self.add_end)
        outputs = {"token_ids": token_ids, "padding_mask": tf.cast(mask, tf.int32)}
        if "segment_ids" in self.input_names:
            outputs["segment_ids"] = tf.zeros_like(token_ids)
        return {name: outputs[name] for name in self.input_names}

    def encode(self, text):
        """One text's token ids, no start, end or padding, never cut."""
        import tensorflow as tf

        return [int(token) for token in self._encode(tf.constant([text]))[0].numpy()]

    def decode(self, token_ids):
        """Token ids -> text (WordPiece joins words with spaces; byte-level
        BPE gives back the exact text)."""
        import tensorflow as tf

        if self._decode is None:
            self._decode = tf.function(self._tokenize.detokenize, input_signature=[tf.TensorSpec([None], tf.int32)])
        if not token_ids:
            return ""
        return self._decode(tf.constant(token_ids, dtype=tf.int32)).numpy().decode("utf-8", errors="replace")

    def _tokenize_batch(self, texts):
        import tensorflow as tf

        if self.tokenizer.lowercase and self.tokenizer.kind == "byte_bpe":
            texts = tf.strings.lower(texts, encoding="utf-8")  # BertTokenizer lowercases itself
        return self._tokenize(texts)

    def __call__(self, texts):
        """Texts (a string, a list, or a string tensor of rank 0 or 1) ->
        dict of int32 tensors of shape (count, sequence_length), or
        (sequence_length,) for one string given as a scalar."""
        import tensorflow as tf

        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        if texts.shape.rank == 0:
            return {name: value[0] for name, value in self._pack(texts[None]).items()}
        return self._pack(texts)


def make_preprocessor(tokenizer, sequence_length, lowercase=None, input_names=DEFAULT_INPUTS):
    """A `TextPreprocessor` for a `TrainedTokenizer` (or a WordPiece
    vocabulary list, as runs recorded before byte-level BPE)."""
    if not isinstance(tokenizer, TrainedTokenizer):
        tokenizer = TrainedTokenizer(
            "wordpiece", tuple(tokenizer), None, True if lowercase is None else lowercase, WORDPIECE_SPECIAL
        )
    return TextPreprocessor(tokenizer, sequence_length, input_names)
