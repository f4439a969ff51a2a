"""Evaluation of synthesized speech: intelligibility (ASR WER/CER), speaker similarity, DNSMOS.

See docs/evaluation.md for the protocol and what each backend's numbers compare with.
"""
