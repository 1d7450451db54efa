"""Real MNIST from the canonical IDX files."""

import numpy as np

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_shapes_counts_and_first_image(mnist):
    """The canonical split, class counts and the famous first '5'."""
    split = mnist.train_test()
    assert split.train.images.shape == (60000, 28, 28)
    assert split.test.images.shape == (10000, 28, 28)
    assert split.train.images.dtype == np.uint8
    assert split.train.class_counts().tolist() == TRAIN_COUNTS
    assert split.test.class_counts().tolist() == TEST_COUNTS
    assert split.train.labels[0] == 5
    row5 = split.train.images[0, 5]
    assert row5[row5 > 0].tolist() == [3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127]
    assert mnist.verified


def test_mnist_memory_stays_small(mnist):
    """No float64 copies: all of MNIST is under 60 MB of array data, and the split makes views."""
    assert mnist.nbytes < 60e6
    split = mnist.train_test()
    assert np.shares_memory(split.train.images, mnist.images)
    assert np.shares_memory(split.train.X, mnist.images)


def test_stratified_split_is_reproducible(mnist):
    a = mnist.train_test(test_size=0.2, seed=3)
    b = mnist.train_test(test_size=0.2, seed=3)
    assert len(a.test) == 14000
    np.testing.assert_array_equal(a.test.labels, b.test.labels)
    share = a.test.class_counts() / len(a.test)
    np.testing.assert_allclose(share, mnist.class_counts() / len(mnist), atol=1e-3)


def test_limit_is_stratified(mnist):
    s = mnist.train_test().limit(1000, seed=0)
    assert len(s.train) == 1000 and len(s.test) == 167
    assert s.train.class_counts().min() >= 85
