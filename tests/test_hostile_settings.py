"""Settings no run could use, from flags and from --config files: refused in one line before anything
is written.

Each case runs in-process through the real entry point (utils.cli.main.run_task) and checks the promise: one line
on stderr, the exit code, and nothing half-written.
"""
import pytest
from conftest import assert_one_line, cli


# ---------------------------------------------------------------- values that make training meaningless
REFUSED_OPTIONS = [
    (["--learning-rate", "inf"], "--learning-rate"),
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--learning-rate", "-0.1"], "--learning-rate"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--weight-decay", "inf"], "--weight-decay"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--momentum", "1.5"], "--momentum"),
    (["--momentum", "nan"], "--momentum"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**32)], "--seed"),
    (["--epochs", "99999999999999999999"], "--epochs"),
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "1.5"], "--epochs"),
    (["--name", "x" * 300], "--name"),
    (["--batch-size", "0"], "--batch-size"),
    (["--validation-split", "1"], "--validation-split"),
    (["--limit", "-3"], "--limit"),
    (["sweep", "--grid", "jit=maybe"], "--jit"),
    (["sweep", "--grid", "learning_rate=0.1,inf"], "--learning-rate"),
    (["sweep", "--grid", "colour=red"], "unknown setting"),
]


@pytest.mark.parametrize("arguments, words", REFUSED_OPTIONS, ids=[" ".join(a)[:40] for a, _ in REFUSED_OPTIONS])
def test_meaningless_values_are_refused_before_anything_is_written(tmp_path, capsys, arguments, words):
    outputs = tmp_path / "outputs"
    code = cli("xor", [*arguments, "--outputs", outputs])
    assert_one_line(capsys, code, 2, words)
    assert not outputs.exists()


# ---------------------------------------------------------------- --config values get the flags' checks
CONFIG_CASES = [
    ("mnist", "dataset: cifar10\n", "--dataset"),
    ("xor", "epochs: 1.5\n", "--epochs"),
    ("xor", "model: 5\n", "-m"),
    ("xor", "learning_rate: [1, 2]\n", "--learning-rate"),
    ("xor", "learning_rate: .inf\n", "--learning-rate"),
    ("xor", "seed: -5\n", "--seed"),
    ("xor", "weight_decay: .nan\n", "--weight-decay"),
    ("xor", "batch_size: true\n", "--batch-size"),
    ("xor", "colour: red\n", "unknown option"),
    ("xor", "epochs: [1\n", "not valid yaml"),
    ("xor", "epochs: [&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b],"
            " &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], [*d,*d,*d,*d,*d,*d,*d,*d,*d]]\n", "--epochs"),
]


@pytest.mark.parametrize("task, text, words", CONFIG_CASES, ids=[text[:20] for _, text, _ in CONFIG_CASES])
def test_config_values_get_the_checks_of_their_flag(tmp_path, capsys, task, text, words):
    config = tmp_path / "settings.yaml"
    config.write_text(text)
    outputs = tmp_path / "outputs"
    code = cli(task, ["--config", config, "--outputs", outputs])
    line = assert_one_line(capsys, code, 2, words)
    assert "Received" not in line or len(line.split("Received")[1]) < 300  # an alias bomb's expansion is capped
    assert not outputs.exists()


def test_a_binary_config_file_is_one_line(tmp_path, capsys):
    config = tmp_path / "settings.yaml"
    config.write_bytes(bytes(range(256)) * 40)
    code = cli("xor", ["--config", config, "--outputs", tmp_path / "outputs"])
    assert_one_line(capsys, code, 2, "--config")


def test_config_may_name_outputs_and_grid_accepts_jit_yes(tmp_path):
    from utils.core.config_file import config_values, parse_grid

    config = tmp_path / "settings.yaml"
    config.write_text(f"outputs: {tmp_path / 'elsewhere'}\n")
    assert config_values(config)["outputs"] == str(tmp_path / "elsewhere")
    assert parse_grid(["jit=yes,no"]) == [{"jit": True}, {"jit": False}]
