"""Model builders by name, checked without importing Keras.

A recipe's `model.builder` names one entry here and `model.args` are its
keyword arguments; kerazoo supplies the shape arguments itself
(`input_shape` for images; `vocabulary_size`, `sequence_length` for text).
Each builder serves one card task: classifier builders return a feature
extractor (kerazoo adds the float32 head), `text_generation` builders the
whole language model, float32 logits included.
"""

import importlib
import inspect

from kerazoo.errors import UsageError, did_you_mean

BUILDERS = {
    "resnet_cifar": ("image", "kerazoo.models.resnet_cifar:resnet_cifar"),
    "keras_application": ("image", "kerazoo.models.applications:keras_application"),
    "keras_hub_resnet": ("image", "kerazoo.models.keras_hub_resnet:keras_hub_resnet"),
    "vit": ("image", "kerazoo.models.vit:vit"),
    "bert": ("text", "kerazoo.models.bert:bert"),
    "distil_bert": ("text", "kerazoo.models.distil_bert:distil_bert"),
    "roberta": ("text", "kerazoo.models.roberta:roberta"),
    "transformer_encoder": ("text", "kerazoo.models.transformer_encoder:transformer_encoder"),
    "gpt2": ("text_generation", "kerazoo.models.gpt2:gpt2"),
}
# The inputs a text builder's model takes; the text preprocessor makes
# exactly these (BERT alone has segment embeddings).
TEXT_INPUTS = {"bert": ("token_ids", "segment_ids", "padding_mask")}
DEFAULT_TEXT_INPUTS = ("token_ids", "padding_mask")
SUPPLIED = {
    "image": ("input_shape", "pretrained"),
    "text": ("vocabulary_size", "sequence_length", "pretrained"),
    "text_generation": ("vocabulary_size", "sequence_length", "pretrained"),
}


def load(name):
    """The builder function called `name`."""
    _, target = BUILDERS[name]
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


def text_inputs(name):
    """The input names of the models text builder `name` returns."""
    return TEXT_INPUTS.get(name, DEFAULT_TEXT_INPUTS)


def check(model_section, task, origin):
    """Fail early, naming the file, when the builder or its args are wrong."""
    name = model_section.builder
    if name not in BUILDERS:
        raise UsageError(
            f"{origin}: unknown model.builder '{name}'.{did_you_mean(name, BUILDERS)} "
            f"Builders: {', '.join(sorted(BUILDERS))}."
        )
    builder_task, _ = BUILDERS[name]
    if builder_task != task:
        raise UsageError(f"{origin}: builder '{name}' builds {builder_task} models, but card.task is '{task}'.")
    parameters = inspect.signature(load(name)).parameters
    valid = [p for p in parameters if p not in SUPPLIED[task]]
    for key in model_section.args:
        if key in SUPPLIED[task]:
            raise UsageError(f"{origin}: 'model.args.{key}' is set by kerazoo (from the data section, or model.pretrained); remove it.")
        if key not in parameters:
            raise UsageError(
                f"{origin}: unknown key 'model.args.{key}' for builder '{name}'."
                f"{did_you_mean(key, valid)} Valid: {', '.join(valid)}."
            )
    missing = [
        p for p, spec in parameters.items()
        if spec.default is inspect.Parameter.empty and p not in SUPPLIED[task] and p not in model_section.args
    ]
    if missing:
        raise UsageError(f"{origin}: builder '{name}' needs model.args: {', '.join(missing)}.")
