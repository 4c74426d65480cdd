//! Enumerated settings with the names configs and command lines use, so that a program can
//! list and parse them (the `ae` binary builds its `--help` from these).

use ae_backend::{BackendKind, WgpuDeviceChoice};
use ae_data::DataSource;
use ae_models::{Activation, NormKind, ReconstructionLoss, WeightInit};

use crate::run::Split;

/// An enumerated setting: every value, each with a name and a line of help.
pub trait Named: Copy + Send + Sync + 'static {
    /// Every value, in the order they are listed.
    const ALL: &'static [Self];

    /// The value's name, as configs and command lines spell it.
    fn name(self) -> &'static str;

    /// One line saying what the value means.
    fn help(self) -> &'static str {
        ""
    }

    /// The value called `name`.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Every name, comma separated.
    fn names() -> String {
        Self::ALL
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Named for Split {
    const ALL: &'static [Self] = &[Split::Train, Split::Valid, Split::Test];
    fn name(self) -> &'static str {
        Split::name(self)
    }
    fn help(self) -> &'static str {
        match self {
            Split::Train => "the items trained on",
            Split::Valid => "the items validated on after every epoch",
            Split::Test => "the official test split, data.test_path, or the held-out items",
        }
    }
}

impl Named for DataSource {
    const ALL: &'static [Self] = &DataSource::ALL;
    fn name(self) -> &'static str {
        DataSource::name(self)
    }
    fn help(self) -> &'static str {
        match self {
            DataSource::Mnist => "MNIST digits (the shipped datasets/mnist)",
            DataSource::FashionMnist => "Fashion-MNIST (the shipped datasets/fashion-mnist)",
            DataSource::ColoredMnist => "grey MNIST digits in, tinted colour digits out",
            DataSource::ImageFolder => "a folder of images, one sub-folder per class",
            DataSource::Csv => "a CSV table of numeric columns",
            DataSource::Paired => "input and target image folders matched by file name",
            DataSource::Parabola => "a seeded noisy parabola in 2-D",
            DataSource::Helix => "a seeded noisy helix in 3-D",
        }
    }
}

impl Named for Activation {
    const ALL: &'static [Self] = &[
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::Elu,
        Activation::None,
    ];
    fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky-relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Gelu => "gelu",
            Activation::Elu => "elu",
            Activation::None => "none",
        }
    }
}

impl Named for ReconstructionLoss {
    const ALL: &'static [Self] = &[ReconstructionLoss::Bce, ReconstructionLoss::SquaredError];
    fn name(self) -> &'static str {
        match self {
            ReconstructionLoss::Bce => "bce",
            ReconstructionLoss::SquaredError => "squared-error",
        }
    }
    fn help(self) -> &'static str {
        match self {
            ReconstructionLoss::Bce => "binary cross-entropy (data in [0, 1])",
            ReconstructionLoss::SquaredError => "squared error",
        }
    }
}

impl Named for WeightInit {
    const ALL: &'static [Self] = &[WeightInit::Default, WeightInit::He];
    fn name(self) -> &'static str {
        match self {
            WeightInit::Default => "default",
            WeightInit::He => "he",
        }
    }
    fn help(self) -> &'static str {
        match self {
            WeightInit::Default => "uniform in ±1/√fan_in (PyTorch's and burn's default)",
            WeightInit::He => "He's uniform for ReLU layers, ±√(6/fan_in)",
        }
    }
}

impl Named for NormKind {
    const ALL: &'static [Self] = &[NormKind::None, NormKind::Batch, NormKind::Layer];
    fn name(self) -> &'static str {
        match self {
            NormKind::None => "none",
            NormKind::Batch => "batch",
            NormKind::Layer => "layer",
        }
    }
    fn help(self) -> &'static str {
        match self {
            NormKind::None => "no normalization",
            NormKind::Batch => "batch normalization of every hidden layer",
            NormKind::Layer => "layer normalization of every hidden layer",
        }
    }
}

impl Named for BackendKind {
    const ALL: &'static [Self] = &BackendKind::ALL;
    fn name(self) -> &'static str {
        self.feature()
    }
    fn help(self) -> &'static str {
        match self {
            BackendKind::Flex => "burn-flex, pure-Rust CPU (feature flex, on by default)",
            BackendKind::Ndarray => "burn-ndarray, CPU (feature ndarray)",
            BackendKind::Wgpu => "burn-wgpu: Vulkan, Metal, DX12 or software Vulkan (feature wgpu)",
            BackendKind::Cuda => "burn-cuda: NVIDIA GPUs, driver loaded at run time (feature cuda)",
        }
    }
}

impl Named for WgpuDeviceChoice {
    const ALL: &'static [Self] = &[
        WgpuDeviceChoice::Default,
        WgpuDeviceChoice::Discrete,
        WgpuDeviceChoice::Integrated,
        WgpuDeviceChoice::Cpu,
    ];
    fn name(self) -> &'static str {
        match self {
            WgpuDeviceChoice::Default => "default",
            WgpuDeviceChoice::Discrete => "discrete",
            WgpuDeviceChoice::Integrated => "integrated",
            WgpuDeviceChoice::Cpu => "cpu",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Named + PartialEq + std::fmt::Debug>() {
        for &value in T::ALL {
            assert_eq!(T::from_name(value.name()), Some(value));
        }
        assert_eq!(T::from_name("no-such-value"), None);
    }

    #[test]
    fn every_name_parses_back() {
        round_trips::<Split>();
        round_trips::<DataSource>();
        round_trips::<Activation>();
        round_trips::<ReconstructionLoss>();
        round_trips::<BackendKind>();
        round_trips::<WgpuDeviceChoice>();
        // The names are the configs' own spellings.
        for &source in <DataSource as Named>::ALL {
            let json = serde_json::to_string(&source).unwrap();
            assert_eq!(json, format!("\"{}\"", source.name()));
        }
        for &activation in <Activation as Named>::ALL {
            let json = serde_json::to_string(&activation).unwrap();
            assert_eq!(json, format!("\"{}\"", activation.name()));
        }
    }
}
