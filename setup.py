"""inst2vec toolkit: learned representations of LLVM IR statements (Ben-Nun et al., NeurIPS 2018)."""
import re

from setuptools import find_packages, setup

# One place for the version: the package's __version__ (also what `inst2vec --version` prints).
VERSION = re.search(r'^__version__ = "([^"]+)"', open("inst2vec/__init__.py", encoding="utf-8").read(), re.M)[1]

setup(
    name="inst2vec-toolkit",
    version=VERSION,
    description="inst2vec statements, contextual flow graphs and embeddings of LLVM IR, with downstream tasks",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["inst2vec", "inst2vec.*", "ir_corpus", "ir_corpus.*", "tasks", "tasks.*",
                                    "train", "train.*"]),
    package_data={"inst2vec": ["samples/*.ll", "samples/*.c", "pretrained/ours/*"], "ir_corpus": ["shims/*.h"]},
    install_requires=[
        "gensim>=4.3",
        "keras>=3.0",
        "llvmlite>=0.44",
        "matplotlib>=3.7",
        "networkx>=3.0",
        "numpy>=1.24",
        "regex>=2023.0",
        "scikit-learn>=1.3",
        "scipy>=1.10",
        "threadpoolctl>=3.1",  # PowerSGD shares a node's cores out among its MPI ranks
        "tqdm>=4.60",
    ],
    extras_require={
        "tf": ["tensorflow-cpu>=2.16"],  # Keras' default backend here; GPU machines use torch instead
        "mpi": ["mpi4py>=3.1", "openmpi>=5.0"],  # distributed training (train/)
        "test": ["pytest>=7", "tensorflow-cpu>=2.16", "mpi4py>=3.1", "openmpi>=5.0",
                 "torch==2.13.0",  # torch: the Keras backend of the GPU machines, tested on tiny shapes
                 "jax[cpu]==0.10.2"],  # JAX: Keras's third backend, tested alike
    },
    entry_points={"console_scripts": ["inst2vec = inst2vec.cli:main"]},
    license="BSD-3-Clause",
)
