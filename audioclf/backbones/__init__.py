"""Pretrained audio backbones: networks trained on large data, turned into embeddings here.

>>> from audioclf.backbones import get_backbone, list_backbones    # doctest: +SKIP
>>> [s.name for s in list_backbones()]                             # doctest: +SKIP
['sounds', 'speech']
>>> get_backbone("sounds").embed(y, sr).shape                      # doctest: +SKIP
(3, 512)
"""

from .core import Backbone, get_backbone, verify_weights
from .embeddings import DatasetEmbeddings, EmbeddingCache, embed_dataset, save_embeddings
from .registry import (
           TOP_BLOCKS,
           BackboneSpec,
           TopBlock,
           backbones_dir,
           get_backbone_spec,
           get_top_block,
           list_backbones,
)

__all__ = ["BackboneSpec", "TopBlock", "TOP_BLOCKS", "get_top_block", "Backbone", "get_backbone", "get_backbone_spec", "list_backbones", "backbones_dir",
           "verify_weights", "EmbeddingCache", "DatasetEmbeddings", "embed_dataset", "save_embeddings"]
