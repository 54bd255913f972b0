"""Model layer: model families (tiny from-scratch models, pretrained ``hf:`` models, weight folders and pointers),
the hub and GGUF conversions, and the generation backends (pearbench's own sampler, vLLM).

Depends on the core modules only. Public names of :mod:`pearbench.models.families` are re-exported here, loaded on
first use.
"""

from pearbench._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CHAR_ALPHABET": "families",
        "HF_PREFIX": "families",
        "POINTER_FILE": "families",
        "SMOLLM2": "families",
        "TinySize": "families",
        "build_char_tokenizer": "families",
        "build_tiny_model": "families",
        "check_trained_model_spec": "families",
        "encode_prompt": "families",
        "encode_response": "families",
        "load_model": "families",
        "load_trained_model": "families",
        "model_choices": "families",
        "read_pointer": "families",
        "resolve_model": "families",
        "save_model": "families",
        "strip_hf_prefix": "families",
        "tiny_config": "families",
        "trained_model_source": "families",
        "write_pointer": "families",
    },
)
