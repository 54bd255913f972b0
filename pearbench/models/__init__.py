"""Model layer: model families (tiny from-scratch models, pretrained ``hf:`` models, weight folders and pointers),
the hub and GGUF conversions, and the generation backends (pearbench's own sampler, vLLM).

Depends on the core modules only. Public names of :mod:`pearbench.models.families` and :mod:`pearbench.models.loading` are re-exported here, loaded on
first use.
"""

from pearbench._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "strip_hf_prefix": "hub",
        "SMOLLM2": "hub",
        "HF_PREFIX": "hub",
        "CHAR_ALPHABET": "families",
        "POINTER_FILE": "loading",
        "TinySize": "families",
        "build_char_tokenizer": "families",
        "build_tiny_model": "families",
        "check_trained_model_spec": "loading",
        "encode_prompt": "families",
        "encode_response": "families",
        "load_model": "families",
        "load_trained_model": "loading",
        "model_choices": "loading",
        "read_pointer": "loading",
        "resolve_model": "loading",
        "save_model": "families",
        "tiny_config": "families",
        "trained_model_source": "loading",
        "write_pointer": "loading",
    },
)
