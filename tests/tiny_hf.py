"""Tiny randomly initialised hub-style checkpoints, saved to a folder as `save_pretrained` would.

Nothing is downloaded: the tokenizer is a character-level WordLevel vocabulary
over the test words, built with `tokenizers` and saved as tokenizer.json.
"""

from pathlib import Path

WORDS = ["apple", "water", "house", "苹果", "水", "房子", "manzana", "agua", "casa", "Año"]


def char_tokenizer(extra_words=()):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<s>", "</s>"]
    chars = sorted({c for w in list(WORDS) + list(extra_words) for c in w} | set(" \"'abcdefghijklmnopqrstuvwxyz"))
    vocab = {t: i for i, t in enumerate(specials + chars)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", model_max_length=64), len(vocab)


def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(seed)
    tokenizer, vocab = char_tokenizer()
    config = CLIPConfig(
        text_config=dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=64, eos_token_id=3, bos_token_id=2,
                         pad_token_id=0),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2),
        projection_dim=16)
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def save_tiny_siglip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(seed)
    tokenizer, vocab = char_tokenizer()
    config = SiglipConfig(
        text_config=dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=64, pad_token_id=0, eos_token_id=3,
                         bos_token_id=2),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2))
    SiglipModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def special_char_tokenizer(specials, eos: str, pad: str, bos: str | None = None, named: dict | None = None):
    """A character-level tokenizer whose ``specials`` are whole tokens (a chat model's markers);
    ``named`` gives some of them the attribute names a processor reads (``tokenizer.image_token``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted({c for w in WORDS for c in w} | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,:'\n"))
    vocab = {t: i for i, t in enumerate(list(dict.fromkeys(specials)) + chars + ["<unk>"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.decoder = decoders.Fuse()
    extra = [t for t in specials if t not in (eos, pad, bos)]
    # (an empty extra_special_tokens would clear additional_special_tokens: pass it only when named)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token=eos, pad_token=pad,
                                        bos_token=bos, additional_special_tokens=extra,
                                        **({"extra_special_tokens": named} if named else {}))
    return tokenizer, vocab


def chat_template(image: str) -> str:
    """A minimal chat template that writes ``image`` where a message holds an image."""
    return ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
            "{% if c['type'] == 'image' %}" + image + "{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
            "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")


def save_tiny_qwen2_vl(folder: Path, seed: int = 0) -> Path:
    """A 1-layer Qwen2-VL with a character-level tokenizer and a minimal chat template."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil, Qwen2VLVideoProcessor

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|image_pad|>", "<|video_pad|>"]
    tokenizer, vocab = special_char_tokenizer(specials, eos="<|im_end|>", pad="<|endoftext|>")
    template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
                "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
                "{% else %}{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16),
        tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor(), chat_template=template)
    config = Qwen2VLConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 2, 4]}),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=32, num_heads=2, in_chans=3, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"], vision_end_token_id=vocab["<|vision_end|>"],
        eos_token_id=vocab["<|im_end|>"], pad_token_id=0)
    torch.manual_seed(seed)
    Qwen2VLForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_trocr(folder: Path, seed: int = 0) -> Path:
    """TrOCR's architecture: a 1-layer ViT encoder and a 1-layer TrOCR decoder (VisionEncoderDecoder)."""
    import torch
    from transformers import (TrOCRConfig, TrOCRProcessor, ViTConfig, ViTImageProcessor, VisionEncoderDecoderConfig,
                              VisionEncoderDecoderModel)

    tokenizer, vocab = char_tokenizer()
    encoder = ViTConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                        num_attention_heads=2)
    decoder = TrOCRConfig(vocab_size=vocab, d_model=32, decoder_layers=1, decoder_attention_heads=2,
                          decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=0, bos_token_id=2,
                          eos_token_id=3, decoder_start_token_id=2)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 2, 0, 3
    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(config=config)
    model.generation_config.decoder_start_token_id = 2
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = 0, 3
    model.save_pretrained(folder)
    TrOCRProcessor(image_processor=ViTImageProcessor(size={"height": 32, "width": 32}),
                   tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_tiny_chinese_clip(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import ChineseCLIPConfig, ChineseCLIPImageProcessor, ChineseCLIPModel

    torch.manual_seed(seed)
    tokenizer, vocab = char_tokenizer()
    config = ChineseCLIPConfig(
        text_config=dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=64, pad_token_id=0),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=1, num_attention_heads=2),
        projection_dim=16)
    ChineseCLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ChineseCLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def save_tiny_llava_next(folder: Path, seed: int = 0) -> Path:
    """E5-V's architecture: LLaVA-NeXT (a CLIP vision tower and a Llama), 1 layer each."""
    import torch
    from transformers import (CLIPVisionConfig, LlamaConfig, LlavaNextConfig, LlavaNextForConditionalGeneration,
                              LlavaNextImageProcessor, LlavaNextProcessor)

    specials = ["<pad>", "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<image>"]
    tokenizer, vocab = special_char_tokenizer(specials, eos="<|eot_id|>", pad="<pad>", bos="<|begin_of_text|>")
    pinpoints = [[32, 32], [32, 64], [64, 32]]
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=2).to_dict(),
        text_config=LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                                pad_token_id=0).to_dict(),
        image_token_index=vocab["<image>"], image_grid_pinpoints=pinpoints, vision_feature_layer=-1,
        vision_feature_select_strategy="default")
    torch.manual_seed(seed)
    LlavaNextForConditionalGeneration(config).save_pretrained(folder)
    image_processor = LlavaNextImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                              image_grid_pinpoints=pinpoints)
    LlavaNextProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                       vision_feature_select_strategy="default", image_token="<image>",
                       num_additional_image_tokens=1).save_pretrained(folder)
    return folder


def save_tiny_qwen3_vl(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen3_vl import Qwen3VLVideoProcessor

    named = {"image_token": "<|image_pad|>", "video_token": "<|video_pad|>", "vision_bos_token": "<|vision_start|>",
             "vision_eos_token": "<|vision_end|>"}
    tokenizer, vocab = special_char_tokenizer(["<|endoftext|>", "<|im_end|>", *named.values()], eos="<|im_end|>",
                                              pad="<|endoftext|>", named=named)
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessorPil(patch_size=16, merge_size=2, min_pixels=32 * 32 * 4,
                                                 max_pixels=32 * 32 * 16),
        tokenizer=tokenizer, video_processor=Qwen3VLVideoProcessor(patch_size=16, merge_size=2),
        chat_template=chat_template("<|vision_start|><|image_pad|><|vision_end|>"))
    config = Qwen3VLConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=1024,
                         pad_token_id=0, rope_parameters={"rope_type": "default", "mrope_section": [4, 2, 2],
                                                          "mrope_interleaved": True, "rope_theta": 10000}),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=16,
                           deepstack_visual_indexes=[0]),
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"], vision_end_token_id=vocab["<|vision_end|>"])
    torch.manual_seed(seed)
    Qwen3VLForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_internvl(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import GotOcr2ImageProcessor, InternVLConfig, InternVLForConditionalGeneration, InternVLProcessor
    from transformers.models.internvl import InternVLVideoProcessor

    named = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
             "video_token": "<video>"}
    tokenizer, vocab = special_char_tokenizer(["<|endoftext|>", "<|im_end|>", *named.values()], eos="<|im_end|>",
                                              pad="<|endoftext|>", named=named)
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size={"height": 32, "width": 32}, crop_to_patches=False),
        tokenizer=tokenizer, video_processor=InternVLVideoProcessor(size={"height": 32, "width": 32}),
        image_seq_length=4, chat_template=chat_template("<IMG_CONTEXT>"))
    config = InternVLConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=[32, 32], patch_size=[8, 8]),
        text_config=dict(model_type="qwen2", vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, pad_token_id=0),
        image_token_id=vocab["<IMG_CONTEXT>"], image_seq_length=4, downsample_ratio=0.5)
    torch.manual_seed(seed)
    InternVLForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_janus(folder: Path, seed: int = 0) -> Path:
    """Janus-Pro's architecture (SigLIP-style encoder, Llama, the VQ-VAE it generates images with)."""
    import torch
    from transformers import JanusConfig, JanusForConditionalGeneration, JanusProcessor
    from transformers.models.janus import JanusImageProcessorPil

    named = {"image_token": "<image_placeholder>", "boi_token": "<begin_of_image>", "eoi_token": "<end_of_image>"}
    tokenizer, vocab = special_char_tokenizer(["<pad>", "<s>", "</s>", *named.values()], eos="</s>", pad="<pad>",
                                              bos="<s>", named=named)
    processor = JanusProcessor(image_processor=JanusImageProcessorPil(size={"height": 20, "width": 20}),
                               tokenizer=tokenizer, num_image_tokens=16,
                               chat_template=chat_template("<image_placeholder>"))
    config = JanusConfig(
        text_config=dict(model_type="llama", vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, intermediate_size=64, pad_token_id=0),
        vision_config=dict(image_size=20, patch_size=5, num_image_tokens=16, hidden_size=32, projection_dim=32,
                           num_hidden_layers=1, num_attention_heads=2, mlp_ratio=2),
        vq_config=dict(embed_dim=12, num_embeddings=12, latent_channels=12, in_channels=3, base_channels=32,
                       channel_multiplier=[1, 1], projection_dim=10, image_token_embed_dim=32),
        image_token_id=vocab["<image_placeholder>"])
    torch.manual_seed(seed)
    JanusForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_mllama(folder: Path, seed: int = 0) -> Path:
    """Llama 3.2 Vision's architecture: a tiled vision encoder and a Llama with cross-attention layers."""
    import torch
    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaProcessor
    from transformers.models.mllama import MllamaImageProcessorPil

    tokenizer, vocab = special_char_tokenizer(["<pad>", "<|begin_of_text|>", "<|eot_id|>", "<|image|>",
                                               "<|python_tag|>"], eos="<|eot_id|>", pad="<pad>",
                                              bos="<|begin_of_text|>", named={"image_token": "<|image|>"})
    processor = MllamaProcessor(image_processor=MllamaImageProcessorPil(size={"height": 32, "width": 32},
                                                                        max_image_tiles=4),
                                tokenizer=tokenizer, chat_template=chat_template("<|image|>"))
    config = MllamaConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_global_layers=1,
                           attention_heads=2, image_size=32, patch_size=8, max_num_tiles=4,
                           intermediate_layers_indices=[0], vision_output_dim=64),
        text_config=dict(vocab_size=len(vocab) + 8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, cross_attention_layers=[1], pad_token_id=0),
        image_token_index=vocab["<|image|>"])
    torch.manual_seed(seed)
    MllamaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_florence2(folder: Path, seed: int = 0, image_tokens: int = 17) -> Path:
    """Florence-2's architecture: a 2-stage DaViT encoder and a 1-layer BART, with its processor."""
    import torch
    from transformers import CLIPImageProcessor, Florence2Config, Florence2ForConditionalGeneration, Florence2Processor

    tokenizer, vocab = special_char_tokenizer(["<pad>", "<s>", "</s>", "<image>"], eos="</s>", pad="<pad>", bos="<s>",
                                              named={"image_token": "<image>"})
    image_processor = CLIPImageProcessor(size={"height": 32, "width": 32}, do_center_crop=False)
    image_processor.image_seq_length = image_tokens
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)
    config = Florence2Config(
        vision_config=dict(depths=[1, 1], patch_size=[7, 3], patch_stride=[4, 2], patch_padding=[3, 1],
                           patch_prenorm=[False, True], embed_dim=[16, 32], num_heads=[1, 2], num_groups=[1, 2],
                           window_size=2, projection_dim=32),
        text_config=dict(vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1,
                         encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                         max_position_embeddings=256, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                         decoder_start_token_id=2),
        image_token_id=vocab["<image>"])
    torch.manual_seed(seed)
    model = Florence2ForConditionalGeneration(config)
    model.generation_config.decoder_start_token_id = 2
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
