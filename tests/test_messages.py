"""Messages say what is wrong: a non-finite value is told it must be finite, and values echo as the user wrote
them (never np.float64(...))."""
import numpy as np
import pytest


@pytest.mark.parametrize("argv, message", [
    (["train", "--learning-rate", "inf"], "--learning-rate must be finite. Received: inf."),
    (["train", "--learning-rate", "nan"], "--learning-rate must be finite. Received: nan."),
    (["train", "--weight-decay", "inf"], "--weight-decay must be finite. Received: inf."),
    (["train", "--learning-rate", "-1"], "--learning-rate must be greater than 0. Received: -1.0."),
    (["sweep", "--grid", "learning_rate=0.1,inf"], "--learning-rate must be finite"),
])
def test_non_finite_values_are_told_they_must_be_finite(tmp_path, capsys, argv, message):
    from utils.cli.main import main
    from utils.core.errors import UserError

    try:
        code = main("mnist", [*argv, "--outputs", str(tmp_path)])
    except UserError as error:
        print(f"mnist.py: error: {error}", file=__import__("sys").stderr)
        code = error.exit_code
    except SystemExit as exit:  # argparse's own one line
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message in err and "np.float64" not in err
    assert list(tmp_path.iterdir()) == []


def test_numpy_values_echo_as_plain_numbers():
    from utils.core.options import BY_NAME, echo

    assert echo(np.float64(np.inf)) == "inf" and echo(np.int64(3)) == "3"
    assert BY_NAME["learning_rate"].problem(np.float64(np.inf)) == "--learning-rate must be finite. Received: inf."
