"""Python's cyclic garbage collector kept out of a large library's import."""
import gc
from contextlib import contextmanager


@contextmanager
def paused_for_import():
    """The collector off while the block imports, and what the import made frozen afterwards.

    Importing TensorFlow makes about half a million objects that live as long as the process; every full collection
    during the import walks all of them (about a second of a four-to-six-second import here), and so does every
    collection after it (0.3 s each time a warm sweep worker resets between trials). Modules are never garbage, so
    they go to the collector's permanent generation (`gc.freeze`), which later collections skip.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
