"""Teaching text for the app's result views, kept as data beside the figures that draw them.

Like a channel's :class:`~audioclf.features.ChannelInfo` description, each
text is one record the pages display (under "What am I looking at?"), so
there is one source of truth and a test can check every key a page uses.
Written for a student, in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError

__all__ = ["Lesson", "LESSONS", "get_lesson", "lesson_keys"]


@dataclass(frozen=True)
class Lesson:
    """One plain-language explanation of something a page shows.

    Attributes
    ----------
    key : str
        How pages ask for it.
    title : str
        A short heading.
    text : str
        Markdown, a few sentences.
    """

    key: str
    title: str
    text: str


LESSONS: tuple[Lesson, ...] = (
    Lesson("confusion_matrix", "The confusion matrix",
           "Each row is the true class of the validation clips, each column the class the model answered. "
           "The diagonal counts the right answers; every cell off it is a mistake, and which cell says which "
           "two classes the model mixes up (a dog taken for a rooster shows in row *dog*, column *rooster*). "
           "A good model has a bright diagonal and dark everywhere else."),
    Lesson("precision_recall_f1", "Precision, recall and F1",
           "For one class: **precision** is how often the model is right when it answers that class (of all "
           "clips it called *dog*, the share that were dogs); **recall** is how many of the class's clips it "
           "found (of all dogs, the share it called *dog*). A model that answers *dog* for everything has "
           "perfect recall and poor precision. **F1** is their harmonic mean: high only when both are high."),
    Lesson("timeline", "The per-window timeline",
           "The model does not hear a clip at once: it hears it window by window. The top row is the clip's "
           "spectrogram (time left to right, low pitches at the bottom); the bottom row shows, for every "
           "window, how likely each class is (darker = more likely), with a red x on the window's winner. "
           "The clip's answer is the average over the windows, so a short sound in a long clip can be "
           "outvoted by the windows around it."),
    Lesson("windows_padding", "Windows and padding",
           "A model reads inputs of one fixed length, so the clip is cut into windows of that length, which "
           "may overlap. The last window usually runs past the clip's end, and a clip shorter than one window "
           "cannot fill it: the missing part is *padding*, filled either by repeating the clip from its "
           "start or with silence. Windows with padding are marked; what the model says about them rests "
           "partly on sound that is not really there."),
    Lesson("embeddings_unknown", "Embeddings and the \"none of these\" answer",
           "A pretrained backbone turns each moment of sound into an *embedding*: a list of numbers in which "
           "similar sounds lie close together. A small head learns borders between your classes in that "
           "space. A classifier always picks one of its classes, even for a sound it has never met, so the "
           "app also answers **none of these** when the model is unsure (its top probability is below the "
           "threshold set on clips it did not learn from) or, for models on a backbone, when the clip lies far from "
           "every class's centre in the embedding space. A backbone model weighs the two together: a clip a "
           "little unsure *and* a little far is refused too, when fewer than 5 % of the known clips the model "
           "gets right are that unusual on both counts. A speech model, whose takes are trimmed to the word, "
           "also compares the word's windows one by one with each class's, so a word that is like a class only "
           "on average is refused more often; one that sounds much like it (*tree* for three) can still pass."),
    Lesson("attention", "Attention",
           "Some models learn where to listen. **Recurrent attention** gives each step of a window a weight "
           "(they add up to 1) and the window's summary is the weighted average: the line under the "
           "spectrogram shows the weights in seconds, 1 meaning an even share, 3 three times that. **Gates** "
           "in convolutional blocks multiply each cell of a block's output by a number between 0 and 1: laid "
           "over the input, warm colours are the parts let through. Attention is what the model weighed, not "
           "proof of why it answered; compare it with Grad-CAM."),
    Lesson("gradcam", "Grad-CAM",
           "Grad-CAM asks: if this part of the network's picture of the sound grew a little, how much would "
           "the chosen class's score grow? It takes that gradient at the last convolutional block, weighs "
           "each filter's map by it, keeps the positive part and stretches it back over the input. Warm "
           "areas raised the class's score; transparent ones did not (they may even have lowered it). Pick "
           "another class to see what would have spoken for it. The map is coarse: one cell of the last "
           "block covers many input bins."),
)
_BY_KEY = {lesson.key: lesson for lesson in LESSONS}
if len(_BY_KEY) != len(LESSONS):
    raise ImportError("two lessons share a key")


def lesson_keys() -> list[str]:
    """Every lesson's key, in display order."""
    return list(_BY_KEY)


def get_lesson(key: str) -> Lesson:
    """The lesson stored under ``key``.

    Raises
    ------
    ParameterError
        An unknown key; the message lists the known ones.

    Examples
    --------
    >>> get_lesson("gradcam").title
    'Grad-CAM'
    """
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        raise ParameterError(f"no teaching text {key!r}; known: {', '.join(_BY_KEY)}") from None
