"""audioclf: audio classification you can see.

The library under the app: audio I/O, preprocessing, feature channels,
windowing, datasets, the Keras 3 model zoo, training, inference and model
bundles. Heavy parts (Keras, librosa) load only when first used.
"""

__version__ = "0.1.0"
