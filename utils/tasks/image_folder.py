"""Images in one sub-folder per class (mnist.py --data-dir FOLDER): PNG/JPG files of any size, each converted to a
28x28 MNIST-like digit the way `predict` converts images; the class names are the folder names, the test split is
FOLDER/test/ when it exists, else held out with the fixed test seed."""
from pathlib import Path

from utils.core.errors import UserError
from utils.tasks.datasets import TEST_SPLIT_SEED, stratified_split

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
TEST_FOLDER, TRAIN_FOLDER = "test", "train"
TEST_FRACTION = 0.2


def is_image_folder(path) -> bool:
    """A folder of class sub-folders rather than of MNIST's .npz/IDX files (which it may hold in mnist/)."""
    path = Path(path)
    if not path.is_dir() or any(path.glob("*.npz")) or any(path.glob("*-ubyte.gz")):
        return False
    # A sub-folder of files (images or not, so that a class folder of no images is told so), never of MNIST's files;
    # an empty sub-folder (an --outputs folder inside --data-dir) says nothing.
    return any(sub.is_dir() and any(file.is_file() for file in sub.iterdir())
               and not any(sub.glob("*-ubyte.gz")) and not any(sub.glob("*.npz")) for sub in path.iterdir())


def class_files(root: Path) -> dict:
    """{class name: sorted image files} of the class sub-folders of `root` (test/ and train/ are not classes)."""
    classes = {}
    for sub in sorted(path for path in root.iterdir() if path.is_dir() and path.name not in (TEST_FOLDER, TRAIN_FOLDER)):
        files = sorted(file for file in sub.iterdir() if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file())
        if files:
            classes[sub.name] = files
    return classes


def checked_classes(root: Path) -> dict:
    classes = class_files(root)
    if not classes:
        raise UserError(f"{root} holds no PNG or JPG images in class sub-folders; put each class's images in "
                        f"{root}/<class name>/.")
    if len(classes) < 2:
        raise UserError(f"{root} holds one class ({next(iter(classes))}); a classifier needs at least two class "
                        "sub-folders.")
    return classes


def folder_classes(path) -> list:
    """The class names of an image folder, in label order (sorted folder names)."""
    path = Path(path)
    return list(checked_classes(path / TRAIN_FOLDER if (path / TRAIN_FOLDER).is_dir() else path))


def read_class_images(classes: dict, names: list) -> tuple:
    import numpy as np  # here, so --help and the run store never import numpy

    from utils.tasks.images import image_to_mnist

    images, labels = [], []
    for label, name in enumerate(names):
        for file in classes.get(name, []):
            images.append(image_to_mnist(file))
            labels.append(label)
    return np.stack(images).astype(np.float32), np.asarray(labels, dtype=np.int64)


def load_image_folder(path) -> tuple:
    """({x_train, y_train, x_test, y_test} as float32 28x28 in [0, 1] and int labels, class names, a note)."""
    path = Path(path)
    root = path / TRAIN_FOLDER if (path / TRAIN_FOLDER).is_dir() else path
    classes = checked_classes(root)
    names = list(classes)
    images, labels = read_class_images(classes, names)
    if (path / TEST_FOLDER).is_dir():
        test_classes = checked_classes(path / TEST_FOLDER)
        unknown = sorted(set(test_classes) - set(names))
        if unknown:
            raise UserError(f"{path / TEST_FOLDER} has class folder(s) {', '.join(unknown)} that training lacks "
                            f"({', '.join(names)}).")
        x_test, y_test = read_class_images(test_classes, names)
        note = f"test split: the {len(y_test)} images of {path / TEST_FOLDER}"
        return {"x_train": images, "y_train": labels, "x_test": x_test, "y_test": y_test}, names, note
    train, test = stratified_split(images, labels, TEST_FRACTION, TEST_SPLIT_SEED, "train and test")
    note = f"test split: {TEST_FRACTION:.0%} of the images held out, stratified (seed {TEST_SPLIT_SEED})"
    return {"x_train": images[train], "y_train": labels[train], "x_test": images[test], "y_test": labels[test]}, names, note
