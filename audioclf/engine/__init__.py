"""The engine: from a clip to model inputs, to a dataset of inputs, to a fitted model, to scores, to a bundle,
to predictions. One module per step, each importing only the steps before it:

========================  ===========================================================================
``sysinfo``, ``device``   facts about the installation; which device the Keras backend really trains on
``backend``               precision, devices and workers: everything that depends on the Keras backend
``pipeline``              :class:`PipelineConfig`: what turns a loaded clip into model inputs
``inputs``                one clip -> model inputs in stages: prepare, backbone windows, model inputs
``extract``               a dataset -> its inputs, in parallel, with the feature cache
``metrics``               plain numpy: clip probabilities, confusion, per-class scores, :class:`Evaluation`
``config``                :class:`TrainConfig`, :class:`ProgressEvent`, :class:`StopToken`, :class:`TrainResult`
``openset``               "none of these": calibrated confidence and embedding-distance thresholds
``bundle``                save and load a model bundle (folder)
``bundle_zip``            a bundle as one zip file: export and safe import
``inference``             a bundle + a clip -> a :class:`Prediction`
``evaluate``              a bundle + a dataset -> an :class:`Evaluation`
``recipes``               default pipelines, the quick recipe, choices -> (TrainConfig, PipelineConfig)
``_fit``                  Keras plumbing: training batches and the monitor callback
``train``                 :func:`train`: split, extract, fit, score, save
``export_runner``         ``classify.py`` of an export: numpy only, no audioclf (copied into the folder)
``export``                a bundle -> one graph, front end inside -> ONNX / TFLite folder (after ``inference``)
========================  ===========================================================================

This ``__init__`` imports nothing, so importing one step never loads Keras for another;
the public names are also re-exported by :mod:`audioclf`.
"""
