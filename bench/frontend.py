"""Text frontend throughput: sentences per second for 1,000 sentences per language.

    .venv/bin/python bench/frontend.py [--sentences 1000]

Prints one JSON object: for vallex en / zh / ja and espeak en (plus pinyin zh, openjtalk ja),
the one-off start-up time (imports, dictionaries, espeak voice) and the steady rate of
``tok.batch`` over the sentences (single process; stage 2 multiplies it by --nj).
Sentences are generated from fixed word lists with a fixed seed (varied words and numbers, so a
word cache does not make the measurement trivial); nothing is downloaded.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EN_WORDS = (
    "the of and to in is was he for it with as his on be at by had not are but from or have an they which one "
    "you were her all she there would their we him been has when who will more no if out so said what up its "
    "about into than them can only other new some could time these two may then do first any my now such like "
    "our over man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people doctor how too little state good very make world still "
    "own see men work long get here between both life being under never day same another know while last "
    "might us great old year off come since against go came right used take three states himself few house "
    "use during without again place american around however home small found thought went say part once "
    "general high upon school every don't does got united left number course war until always away something "
    "fact though water less public put think almost hand enough far took head yet government system better "
    "set told nothing night end why called didn't eyes find going look asked later knew point next program "
    "city business give group toward young days let room president side social given present several order "
    "national possible rather second face per among form important often things looked early white john case "
    "become large big need four within felt along children saw best church ever least power development light"
).split()
ZH_WORDS = (
    "今天 明天 我们 你们 他们 天气 很好 公园 散步 学校 老师 学生 朋友 工作 时间 城市 北京 上海 中国 世界 "
    "喜欢 吃饭 喝茶 苹果 米饭 电脑 手机 音乐 电影 图书馆 医院 银行 公司 飞机 火车 地铁 问题 办法 觉得 知道 "
    "现在 以后 已经 非常 一起 因为 所以 但是 如果 还是 可以 应该 需要 希望 开始 结束 看见 听到 说话 写字"
).split()
ZH_TAILS = ["。", "，", "！", "？"]
JA_WORDS = (
    "今日 明日 天気 学校 先生 学生 友達 仕事 時間 東京 日本 世界 電車 会社 病院 銀行 映画 音楽 本 水 "
    "食べます 飲みます 行きます 来ます 見ます 聞きます 話します 書きます 読みます 買います 好きです "
    "とても 少し いつも 一緒に 大きい 小さい 新しい 古い 美しい 静かな 賑やかな"
).split()
JA_PARTICLES = ["は", "が", "を", "に", "で", "と", "の", "も"]


def english_sentences(n: int, rng: random.Random):
    out = []
    for _ in range(n):
        words = [rng.choice(EN_WORDS) for _ in range(rng.randint(8, 20))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), str(rng.randint(1, 3000)))
        if rng.random() < 0.1:
            words.insert(0, "Dr.")
        s = " ".join(words)
        out.append(s[0].upper() + s[1:] + rng.choice([".", "?", "!", ", indeed."]))
    return out


def chinese_sentences(n: int, rng: random.Random):
    out = []
    for _ in range(n):
        words = [rng.choice(ZH_WORDS) for _ in range(rng.randint(5, 12))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), str(rng.randint(1, 500)))
        mid = rng.randrange(1, len(words))
        out.append("".join(words[:mid]) + "，" + "".join(words[mid:]) + rng.choice(ZH_TAILS))
    return out


def japanese_sentences(n: int, rng: random.Random):
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(3, 6)):
            parts.append(rng.choice(JA_WORDS) + rng.choice(JA_PARTICLES))
        out.append("".join(parts[:-1]) + "、" + parts[-1] + rng.choice(JA_WORDS[-16:]) + "。")
    return out


def measure(name: str, lang: str, sentences):
    from valle.text.tokenizer import get_text_tokenizer

    t0 = time.perf_counter()
    tok = get_text_tokenizer(name, lang)
    tok.batch(sentences[:1])
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = tok.batch(sentences)
    elapsed = time.perf_counter() - t0
    tokens = sum(len(r.tokens) for r in results)
    return {"startup_s": round(startup, 3), "seconds": round(elapsed, 3), "sentences": len(sentences),
            "sentences_per_s": round(len(sentences) / elapsed, 1), "tokens_per_sentence": round(tokens / len(sentences), 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sentences", type=int, default=1000, help="sentences per language")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    en = english_sentences(args.sentences, rng)
    zh = chinese_sentences(args.sentences, rng)
    ja = japanese_sentences(args.sentences, rng)
    out = {
        "vallex_en": measure("vallex", "en", en),
        "vallex_zh": measure("vallex", "zh", zh),
        "vallex_ja": measure("vallex", "ja", ja),
        "espeak_en": measure("espeak", "en-us", en),
        "pinyin_zh": measure("pinyin", "zh", zh),
        "openjtalk_ja": measure("openjtalk", "ja", ja),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
