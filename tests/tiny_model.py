"""Build a tiny, random GLM-ASR checkpoint offline, for tests.

The checkpoint has the real model class (``GlmAsrForConditionalGeneration``), the real
processor (``GlmAsrProcessor``: Whisper features with 128 mel bins and 30 s windows) and a
character-level tokenizer with GLM-ASR's special tokens and chat template. Only the sizes
are tiny, so it loads in a fraction of a second and decodes a 30 s window in milliseconds.

Usage: ``python tests/tiny_model.py OUT_DIR [--pad-is-placeholder] [--seed N]``
or ``build_tiny_model(out_dir)`` from Python.
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

AUDIO_TOKEN = "<|pad|>"
EOS_TOKEN = "<|endoftext|>"
UNK_TOKEN = "<unk>"
SPECIAL_TOKENS = [
    EOS_TOKEN,
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|observation|>",
    "<|begin_of_audio|>",
    "<|end_of_audio|>",
    AUDIO_TOKEN,
]
# A few CJK characters so that Chinese text round-trips through the tokenizer.
CJK_CHARS = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着"
    "去之过家学对可里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行"
    "方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理"
    "美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电"
    "四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼"
    "体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感"
    "金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许"
    "八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管"
    "夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完"
    "革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取"
    "设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专"
    "石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母"
    "调局根曾准团段终乐切级克精哪官示冷域读谢"
)
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    "<|user|>{{ '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'audio' -%}<|begin_of_audio|><|pad|><|end_of_audio|><|user|>{{ '\\n' }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{%- elif message['role'] == 'assistant' -%}"
    "<|assistant|>{{ '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for item in message['content'] -%}{{ item['text'] }}{%- endfor -%}"
    "{%- endif -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{{ '\\n' }}{%- endif -%}"
)


def _vocabulary() -> list[str]:
    chars = list(string.printable.replace("\x0b", "").replace("\x0c", ""))
    chars += [c for c in dict.fromkeys(CJK_CHARS) if c not in chars]
    chars += list("àáâäãåçèéêëìíîïñòóôöõùúûüýÿßæøœÀÁÂÄÇÈÉÊËÍÎÏÑÓÔÖÙÚÛÜ")
    chars += list("，。？！、：；“”《》")
    return [UNK_TOKEN, *chars, *SPECIAL_TOKENS]


def build_tokenizer(pad_is_placeholder: bool = False):  # -> PreTrainedTokenizerFast
    """A character-level fast tokenizer with GLM-ASR's special tokens."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(_vocabulary())}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK_TOKEN))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(""), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token=UNK_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=AUDIO_TOKEN if pad_is_placeholder else EOS_TOKEN,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t != EOS_TOKEN],
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )
    return tokenizer


def build_tiny_model(
    out_dir: str | Path,
    pad_is_placeholder: bool = False,
    seed: int = 0,
    text_init_range: float = 0.6,
    eos_scale: float = 2.5,
) -> Path:
    """Write a tiny random GLM-ASR checkpoint (model + processor) to ``out_dir``.

    ``pad_is_placeholder=True`` saves a tokenizer whose pad token is the audio placeholder
    ``<|pad|>`` (the case the engine must repair). Weights are deterministic for a seed.
    The decoder is drawn with a large init scale (``text_init_range``, default 0.6), so that
    its logits are well separated (greedy decoding has no near-ties) and its output varies
    with the audio; with 0.2 the decoder falls into a one-token loop after a few tokens,
    which is what repetition-guard tests need. The end-of-text embedding (tied to the output
    layer) is scaled by ``eos_scale`` so that most outputs end after a few dozen tokens, like
    real transcripts; with 1.0 the model hardly ever ends.
    """
    import torch
    from transformers import (
        GlmAsrConfig,
        GlmAsrForConditionalGeneration,
        GlmAsrProcessor,
        WhisperFeatureExtractor,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(pad_is_placeholder=pad_is_placeholder)
    feature_extractor = WhisperFeatureExtractor(
        feature_size=128, sampling_rate=16000, hop_length=160, chunk_length=30, n_fft=400
    )
    processor = GlmAsrProcessor(
        feature_extractor=feature_extractor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
        audio_token=AUDIO_TOKEN,
    )
    eos_ids = [
        tokenizer.convert_tokens_to_ids(t) for t in (EOS_TOKEN, "<|user|>", "<|observation|>")
    ]
    config = GlmAsrConfig(
        audio_config=dict(
            hidden_size=64,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_mel_bins=128,
            initializer_range=0.2,
        ),
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=8192,
            eos_token_id=eos_ids,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=None,
            initializer_range=text_init_range,
        ),
        audio_token_id=tokenizer.convert_tokens_to_ids(AUDIO_TOKEN),
    )
    torch.manual_seed(seed)
    model = GlmAsrForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.get_input_embeddings().weight[eos_ids[0]] *= eos_scale
    model.generation_config.eos_token_id = eos_ids
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--pad-is-placeholder", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text-init-range", type=float, default=0.6)
    parser.add_argument("--eos-scale", type=float, default=2.5)
    args = parser.parse_args(argv)
    path = build_tiny_model(
        args.out_dir,
        pad_is_placeholder=args.pad_is_placeholder,
        seed=args.seed,
        text_init_range=args.text_init_range,
        eos_scale=args.eos_scale,
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
