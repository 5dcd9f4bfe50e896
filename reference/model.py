"""The paper's network in PyTorch: the reference architecture for sermo.

An & Ruan (2021), "Speech Emotion Recognition algorithm based on deep learning algorithm fusion
of temporal and spatial features": two identical parallel CNN blocks and a max-pooled
Transformer encoder over the same 40×282 MFCC map, concatenated into one linear layer.

Module names are those of the paper's code ancestor (Ilia Zenkov, "Parallel is All You Want"),
so `model.state_dict()` has the keys `sermo import` reads:

    conv2Dblock1.{0,1,5,6,10,11}.*      Conv2d / BatchNorm2d of the first CNN block
    conv2Dblock2.{0,1,5,6,10,11}.*      the second block
    transformer_encoder.layers.N.{self_attn.in_proj_weight, self_attn.in_proj_bias,
        self_attn.out_proj.*, linear1.*, linear2.*, norm1.*, norm2.*}
    fc1_linear.{weight,bias}

248,488 trainable parameters.
"""

import torch
from torch import nn

N_MFCC = 40
N_FRAMES = 282
NUM_CLASSES = 8


def conv_block() -> nn.Sequential:
    """[Conv 3×3 pad 1 → BatchNorm → ReLU → MaxPool → Dropout 0.3] × 3, channels 1→16→32→64,
    pools 2×2, 4×4, 4×4: [B, 1, 40, 282] → [B, 64, 1, 8]."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, stride=1, padding=1),   # 0
        nn.BatchNorm2d(16),                                     # 1
        nn.ReLU(),                                              # 2
        nn.MaxPool2d(kernel_size=2, stride=2),                  # 3
        nn.Dropout(p=0.3),                                      # 4
        nn.Conv2d(16, 32, kernel_size=3, stride=1, padding=1),  # 5
        nn.BatchNorm2d(32),                                     # 6
        nn.ReLU(),                                              # 7
        nn.MaxPool2d(kernel_size=4, stride=4),                  # 8
        nn.Dropout(p=0.3),                                      # 9
        nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1),  # 10
        nn.BatchNorm2d(64),                                     # 11
        nn.ReLU(),                                              # 12
        nn.MaxPool2d(kernel_size=4, stride=4),                  # 13
        nn.Dropout(p=0.3),                                      # 14
    )


class ParallelNet(nn.Module):
    """The paper's network. Input: standardised MFCC maps [B, 1, 40, 282]."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.conv2Dblock1 = conv_block()
        self.conv2Dblock2 = conv_block()
        self.transformer_maxpool = nn.MaxPool2d(kernel_size=[1, 4], stride=[1, 4])
        layer = nn.TransformerEncoderLayer(
            d_model=N_MFCC,
            nhead=4,
            dim_feedforward=512,
            dropout=0.4,
            activation="relu",
        )  # batch_first=False, norm_first=False (post-norm)
        # enable_nested_tensor=False: the fast path would warn/act only in eval; numbers are equal.
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=4, enable_nested_tensor=False)
        self.fc1_linear = nn.Linear(512 * 2 + N_MFCC, num_classes)
        self.softmax_out = nn.Softmax(dim=1)

    def branches(self, x: torch.Tensor):
        """The three embeddings: ([B, 512], [B, 512], [B, 40])."""
        conv1 = torch.flatten(self.conv2Dblock1(x), start_dim=1)  # [B, 512]
        conv2 = torch.flatten(self.conv2Dblock2(x), start_dim=1)  # [B, 512]
        t = self.transformer_maxpool(x)  # [B, 1, 40, 70]
        t = torch.squeeze(t, 1)  # [B, 40, 70]
        t = t.permute(2, 0, 1)  # [70, B, 40]: 70 steps of 40 MFCCs
        t = self.transformer_encoder(t)  # [70, B, 40]
        t = torch.mean(t, dim=0)  # [B, 40]
        return conv1, conv2, t

    def forward(self, x: torch.Tensor):
        """Returns (logits [B, 8], probabilities [B, 8])."""
        conv1, conv2, t = self.branches(x)
        embedding = torch.cat([conv1, conv2, t], dim=1)  # [B, 1064]
        logits = self.fc1_linear(embedding)
        return logits, self.softmax_out(logits)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


if __name__ == "__main__":
    m = ParallelNet()
    print(f"parameters: {count_parameters(m)}")
    for k, v in m.state_dict().items():
        print(k, tuple(v.shape))
