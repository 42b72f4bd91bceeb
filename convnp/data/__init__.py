"""``convnp.data``: datasets, the DataLoader and transforms (``torch.utils.data`` + torchvision).

    from convnp.data import DataLoader, MNIST, transforms as T
    train = MNIST("~/data", transform=T.ToTensor(), download=True)  # or a folder of IDX files
    for images, labels in DataLoader(train, batch_size=64, shuffle=True): ...
"""

from convnp.data import transforms  # noqa: F401
from convnp.data._download import ChecksumError, DatasetNotFoundError, default_root  # noqa: F401
from convnp.data.dataloader import (  # noqa: F401
                                    BatchSampler,
                                    DataLoader,
                                    RandomSampler,
                                    Sampler,
                                    SequentialSampler,
                                    SubsetRandomSampler,
                                    default_collate,
                                    default_convert,
                                    get_worker_info,
)
from convnp.data.dataset import (  # noqa: F401
                                    ChainDataset,
                                    ConcatDataset,
                                    Dataset,
                                    IterableDataset,
                                    StackDataset,
                                    Subset,
                                    TensorDataset,
                                    random_split,
)
from convnp.data.datasets import (  # noqa: F401
                                    CIFAR10,
                                    CIFAR100,
                                    DATASETS,
                                    EMNIST,
                                    KMNIST,
                                    MNIST,
                                    FashionMNIST,
                                    VisionDataset,
                                    get_dataset,
                                    list_datasets,
                                    read_idx,
)
