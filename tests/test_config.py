"""TransformerConfig: validation that names the field, dict / YAML / JSON round trips."""

import pytest

from keras_transformer.config import ConfigError, TransformerConfig, parse_override
from keras_transformer.tasks import DataConfig


@pytest.mark.parametrize("field, value, fragment", [
    ("num_heads", 3, "num_heads (3) must divide d_model"),
    ("d_model", 0, "d_model must be a positive integer"),
    ("d_model", 12.5, "d_model must be a positive integer"),
    ("ff_dim", True, "ff_dim must be a positive integer"),
    ("dropout", 1.0, "dropout must be in [0, 1)"),
    ("attention_dropout", -0.1, "attention_dropout must be in [0, 1)"),
    ("norm_position", "sandwich", "norm_position must be one of post, pre"),
    ("encoder_mixer", "lstm", "encoder_mixer must be one of attention, conv, rnn"),
    ("activation", "softmax", "activation must be one of"),
    ("position_encoding", "rotary", "position_encoding must be one of"),
    ("dtype_policy", "float8", "dtype_policy must be one of"),
    ("learning_rate", 0, "learning_rate must be a positive number"),
    ("num_encoder_layers", -1, "num_encoder_layers must be a non-negative integer"),
    ("source_vocab_size", 3, "at least 5"),
    ("cooldown_epochs", -1, "cooldown_epochs must be a non-negative integer"),
    ("cooldown_epochs", 11, "cooldown_epochs (11) must not exceed epochs (10)"),
])
def test_invalid_values_name_the_field(field, value, fragment):
    with pytest.raises(ConfigError) as info:
        TransformerConfig(**{field: value})
    assert fragment in str(info.value)


def test_shared_embeddings_need_one_vocabulary():
    with pytest.raises(ConfigError, match="share_embeddings"):
        TransformerConfig(source_vocab_size=10, target_vocab_size=12, share_embeddings=True)


def test_unknown_fields_are_rejected_by_name():
    with pytest.raises(ConfigError, match="unknown config field.*colour"):
        TransformerConfig.from_dict({"d_model": 64, "colour": "blue"})
    with pytest.raises(ConfigError, match="unknown data field.*size"):
        DataConfig.from_dict({"size": 3})


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_file_round_trip(tmp_path, suffix):
    config = TransformerConfig(d_model=128, num_heads=8, encoder_mixer="conv",
                               norm_position="pre", dropout=0.2)
    path = tmp_path / f"config{suffix}"
    config.save(path)
    assert TransformerConfig.load(path) == config
    assert TransformerConfig.from_dict(config.to_dict()) == config


def test_bad_files_raise_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        TransformerConfig.load(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.json"
    broken.write_text("{d_model: ")
    with pytest.raises(ConfigError, match="cannot parse"):
        TransformerConfig.load(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        TransformerConfig.load(listed)


def test_replace_validates_and_overrides_parse_yaml_scalars():
    config = TransformerConfig()
    assert config.replace(d_model=512).d_model == 512
    with pytest.raises(ConfigError):
        config.replace(num_heads=7)
    assert parse_override("dropout=0.3") == ("dropout", 0.3)
    assert parse_override("norm_position=pre") == ("norm_position", "pre")
    assert parse_override("tie_output_embedding=false") == ("tie_output_embedding", False)
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("dropout")
