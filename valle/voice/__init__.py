"""Saved voices: a speaker's clip with its codes and text tokens, used instead of a prompt (docs/inference.md).

    from valle.voice import Voice, save_voice, load_voice, list_voices, voice_path
    voice = load_voice("alice", voices_dir="exp/valle/voices")   # a plain name, never a path
    synth.synthesize("Hello.", voice=voice)
"""
from valle.voice.voice_file import (VOICE_SUFFIX, Voice, VoiceError, VoiceFileError, read_voice, save_voice,
                                    symbols_digest)
from valle.voice.voice_fit import check_voice_fits, fitted_voice_prompt, voice_prompt_ids
from valle.voice.voice_store import (VoiceNameError, check_voice_name, list_voices, load_voice, voice_files,
                                     resolve_voice, voice_name_for, voice_names_for, voice_path)

__all__ = ["VOICE_SUFFIX", "Voice", "VoiceError", "VoiceFileError", "VoiceNameError", "check_voice_fits",
           "check_voice_name", "fitted_voice_prompt", "list_voices", "load_voice", "read_voice", "resolve_voice", "save_voice", "symbols_digest",
           "voice_files", "voice_name_for", "voice_names_for", "voice_path", "voice_prompt_ids"]
