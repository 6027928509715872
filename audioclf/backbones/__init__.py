"""Pretrained audio backbones: networks trained on large data, turned into embeddings here.

>>> from audioclf.backbones import get_backbone, list_backbones    # doctest: +SKIP
>>> [s.name for s in list_backbones()]                             # doctest: +SKIP
['sounds', 'speech']
>>> get_backbone("sounds").embed(y, sr).shape                      # doctest: +SKIP
(3, 512)
"""

from .registry import BackboneSpec, TopBlock, backbones_dir, get_backbone_spec, get_top_block, list_backbones

__all__ = ["BackboneSpec", "TopBlock", "get_top_block", "Backbone", "get_backbone", "get_backbone_spec", "list_backbones", "backbones_dir",
           "verify_weights", "EmbeddingCache", "DatasetEmbeddings", "embed_dataset", "save_embeddings"]

_LAZY = {"Backbone": "core", "get_backbone": "core", "verify_weights": "core",
         "EmbeddingCache": "embeddings", "DatasetEmbeddings": "embeddings", "embed_dataset": "embeddings",
         "save_embeddings": "embeddings"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'audioclf.backbones' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
