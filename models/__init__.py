"""Named model definitions. Importing this package registers every model."""
from models import mnist, tabular  # noqa: F401  (imported for their @register_model side effects)
from models.registry import ModelSpec, get_model, models_for_task, register_model  # noqa: F401
