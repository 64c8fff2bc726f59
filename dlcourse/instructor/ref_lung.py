"""Reference implementations for notebook 08 (lung cancer project): instructor only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..testkit.lung import resize_rgb  # noqa: F401  (public: used by lung_heldout too)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def label_of(path) -> int | None:
    """1 for names ending in pos, 0 for neg (before the extension), None otherwise."""
    stem = Path(path).stem.lower()
    if stem.endswith("pos"):
        return 1
    if stem.endswith("neg"):
        return 0
    return None


def load_images(folder, size: int = 40):
    """(X float32 (N, size, size, 3) in [0, 1] RGB, y int64), in sorted file-name order."""
    from PIL import Image

    X, y = [], []
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        label = label_of(path)
        if label is None:
            continue
        with Image.open(path) as im:
            img = np.asarray(im.convert("RGB"))
        X.append(resize_rgb(img, size))
        y.append(label)
    return np.stack(X).astype(np.float32) / 255.0, np.asarray(y, dtype=np.int64)


def split_data(X, y, test_size=0.25, seed=42):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


def build_lung_cnn(width=40, height=40, depth=3, classes=2):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((height, width, depth)),
            layers.Conv2D(20, (5, 5), padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2), strides=(2, 2)),
            layers.Conv2D(50, (5, 5), padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2), strides=(2, 2)),
            layers.Flatten(),
            layers.Dense(500, activation="relu"),
            layers.Dense(classes, activation="softmax"),
        ]
    )


def augmenter(seed=0):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomFlip("horizontal_and_vertical", seed=seed),
            layers.RandomRotation(0.25, fill_mode="reflect", seed=seed + 1),
        ]
    )


def train_lung_cnn(model, X_train, y_train, epochs, batch_size=32, augment=True, lr=1e-3):
    import keras
    import tensorflow as tf

    classes = model.output_shape[-1]
    Y = keras.utils.to_categorical(np.asarray(y_train), num_classes=classes)
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(X_train, np.float32), Y))
    ds = ds.shuffle(len(Y), seed=0).batch(batch_size)
    if augment:
        aug = augmenter()
        ds = ds.map(lambda x, t: (aug(x, training=True), t), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model.fit(ds, epochs=epochs, shuffle=False, verbose=0)


def predict_with_confidence(model, image, threshold=0.95):
    probs = np.asarray(model.predict(np.asarray(image, np.float32)[None], verbose=0))[0]
    k = int(np.argmax(probs))
    conf = float(probs[k])
    if conf < threshold:
        return "Not detected", conf
    return ("Cancer" if k == 1 else "No Cancer"), conf


def selective_metrics(probs, y_true, threshold=0.95):
    """(coverage, accuracy, recall) of the cases decided at `threshold` (confidence >= threshold).

    accuracy is nan when no case is decided; recall (of class 1) is nan when no decided case is
    positive.
    """
    probs = np.asarray(probs)
    y = np.asarray(y_true).astype(np.int64)
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    decided = conf >= threshold
    coverage = float(decided.mean()) if len(y) else float("nan")
    accuracy = float(np.mean(pred[decided] == y[decided])) if decided.any() else float("nan")
    positives = decided & (y == 1)
    recall = float(np.mean(pred[positives] == 1)) if positives.any() else float("nan")
    return coverage, accuracy, recall


def same_number(got, want, rtol: float = 1e-9) -> bool:
    """Whether `got` is `want` within `rtol`, nan matching nan (undefined metrics)."""
    return bool(np.isclose(float(got), float(want), rtol=rtol, atol=0.0, equal_nan=True))


def class_scores(model, x):
    """The class scores (pre-softmax) of `model` for a batch x: the last Dense layer's
    pre-activation, computed from its input and its own kernel and bias (a GradientTape can
    differentiate this; the model is not changed)."""
    import keras
    import tensorflow as tf

    last = model.layers[-1]
    features = keras.Model(model.inputs, last.input)
    h = features(x, training=False)
    return tf.matmul(h, last.kernel) + last.bias


def saliency_map(model, x, class_index):
    """|d score_class / d x|, max over channels: (N, H, W) float32, by tf.GradientTape."""
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(x, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = class_scores(model, x)[:, int(class_index)]
    grad = tape.gradient(score, x)
    return np.abs(grad.numpy()).max(axis=-1)


# Concept questions: the answer, and for each wrong option why it is wrong.
QUESTIONS = {
    "q_always_negative": {
        "answer": "d",
        "why": {
            "a": "0 is this model's recall for the cancer class (it never finds a nodule), not its accuracy: "
                 "accuracy counts every right answer, and it is right on all 950 negative patches.",
            "b": "0.05 is the share of positive patches, the ones it gets wrong. It is right on the other "
                 "950 of 1000.",
            "c": "A coin flip would score about 0.5; answering 'No Cancer' every time is right on every "
                 "negative patch, 950 of 1000.",
        },
    },
    "q_recall": {
        "answer": "b",
        "why": {
            "a": "Precision counts false alarms, and a false alarm only costs a second look. A missed "
                 "nodule sends a sick patient home: that is the recall, 95 of 100 for A, 85 for B.",
            "c": "B's accuracy is higher because it raises fewer false alarms, the cheap error. It misses "
                 "15 nodules where A misses 5; the recall of cancer shows it.",
            "d": "0.95 and 0.85 are the recalls of cancer (nodules found / nodules), not the accuracies, "
                 "which are 180 / 200 = 0.900 for A and 183 / 200 = 0.915 for B.",
        },
    },
    "q_threshold": {
        "answer": "c",
        "why": {
            "a": "A higher threshold keeps only cases whose confidence reaches it: those decided at 0.99 are "
                 "a part of those decided at 0.95, so the count cannot rise above 820.",
            "b": "At 0.99 a case needs more confidence than at 0.95, so the decided cases cannot grow, "
                 "and surely not to all 1,000.",
            "d": "The cases decided at 0.99 are a part of the 820 decided at 0.95. With 820 of them they "
                 "are the same cases, so their accuracy is the same 97%.",
        },
    },
    "q_swapped_report": {
        "answer": "b",
        "why": {
            "a": "The printed report treated the predictions as the truth. Swapping y_true and y_pred swaps "
                 "false positives and false negatives, so precision and recall trade places.",
            "c": "0.94 is the accuracy, which the swap does not change; the per-class precision and recall "
                 "do change.",
            "d": "Nothing is lost: precision with the arguments swapped is TP / (TP + FN), exactly the real "
                 "recall, and the other way round.",
        },
    },
}
