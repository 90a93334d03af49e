"""What the method API refuses, and when: a second family at class definition, a family or an
unknown group in MethodInfo at the first ``info``, and options that do not fit the method's."""

import numpy as np
import pytest

from bench.api.options import OptionError
from bench.api.registry import create
from bench.api.retriever import GROUPS, EmbeddingRetriever, Family, Group, MethodInfo, TranscriptionRetriever


def test_setting_a_family_on_an_adapter_is_refused_when_the_class_is_defined():
    with pytest.raises(TypeError, match="do not set `family`") as err:
        class Confused(EmbeddingRetriever):
            family = Family.TRANSCRIPTION
    assert "\n" not in str(err.value) and "Confused" in str(err.value)


def test_an_adapter_of_two_families_is_refused():
    with pytest.raises(TypeError, match="more than one method family"):
        class Both(EmbeddingRetriever, TranscriptionRetriever):
            pass


class FamilyInInfo(EmbeddingRetriever):
    """Defines fine; the mistake is in its info, so it shows at the first ``info``."""

    @property
    def info(self):
        return MethodInfo(name="family-in-info", family=Family.TRANSCRIPTION, group="end2end", version="1")

    def embed_images(self, items):
        return np.ones((len(items), 2))

    def embed_texts(self, texts, lang):
        return np.ones((len(texts), 2))


def test_a_family_in_method_info_raises_at_the_first_info_access():
    method = FamilyInInfo()
    with pytest.raises(TypeError, match="do not pass family=") as err:
        method.info
    assert "\n" not in str(err.value) and "family-in-info" in str(err.value)


def test_an_unknown_group_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="'end2end' is not one of") as err:
        MethodInfo(name="typo", group="end2end", version="1")
    assert all(group in str(err.value) for group in GROUPS) and "\n" not in str(err.value)
    assert MethodInfo(name="ok", group="end-to-end", version="1").group is Group.END_TO_END


def test_an_unknown_option_is_refused_naming_it_and_the_known_keys():
    with pytest.raises(OptionError) as err:
        create("random", {"typo_option": "3"})
    message = str(err.value)
    assert "'typo_option'" in message and "dim" in message and "seed" in message


def test_option_values_are_converted_to_the_declared_types():
    method = create("random", {"dim": "8"})
    assert method.options.dim == 8 and isinstance(method.options.dim, int)
    assert method.embed_texts(["apple"], "en").shape == (1, 8)
    assert create("random").options.dim == 64


@pytest.mark.parametrize("value", ["eight", "8.5", ""])
def test_a_bad_integer_option_is_refused(value):
    with pytest.raises(OptionError, match="'dim'"):
        create("random", {"dim": value})
