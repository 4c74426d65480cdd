//! The trainer's optimizer: burn's `AdamW` (same configuration, same state record, so
//! checkpoints are unchanged), with the update fused into one pass over memory on burn-flex
//! by [`ae_kernels::adamw_step`]; every other backend runs burn's own `AdamW`.

use ae_kernels::{AdamMoments, AdamWHyper, adamw_step};
use burn::module::AutodiffModule;
use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

/// AdamW as burn's `AdamWConfig` defines it (amsgrad and cautious decay off), fused on
/// burn-flex.
#[derive(Clone)]
pub struct FusedAdamW {
    hyper: AdamWHyper,
    burns: AdamW,
}

impl std::fmt::Debug for FusedAdamW {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedAdamW")
            .field("hyper", &self.hyper)
            .finish()
    }
}

impl FusedAdamW {
    /// AdamW with betas 0.9 and 0.999 (burn's defaults), this `epsilon` and decoupled
    /// `weight_decay`.
    pub fn new(epsilon: f32, weight_decay: f32) -> Self {
        let hyper = AdamWHyper {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon,
            weight_decay,
        };
        let burns = AdamWConfig::new()
            .with_beta_1(hyper.beta_1)
            .with_beta_2(hyper.beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay)
            .build();
        Self { hyper, burns }
    }

    /// The optimizer for a module, clipping the gradients' norm when `clip_norm` is given.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(
        self,
        clip_norm: Option<f32>,
    ) -> OptimizerAdaptor<Self, M, B> {
        let optimizer = OptimizerAdaptor::from(self);
        match clip_norm {
            Some(norm) => optimizer.with_grad_clipping(GradientClippingConfig::Norm(norm).init()),
            None => optimizer,
        }
    }
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        // A state with an amsgrad maximum is burn's to update.
        let plain = state
            .as_ref()
            .is_none_or(|s| s.momentum.max_moment_2.is_none());
        if !plain {
            return self.burns.step(lr, tensor, grad, state);
        }
        let moments = state.map(|s| AdamMoments {
            time: s.momentum.time,
            moment_1: s.momentum.moment_1,
            moment_2: s.momentum.moment_2,
        });
        match adamw_step(&self.hyper, lr, tensor, grad, moments) {
            Ok((tensor, moments)) => {
                let momentum =
                    AdaptiveMomentumState::new(moments.time, moments.moment_1, moments.moment_2);
                (tensor, Some(AdamWState { momentum }))
            }
            Err((tensor, grad, moments)) => {
                let state = moments.map(|m| AdamWState {
                    momentum: AdaptiveMomentumState::new(m.time, m.moment_1, m.moment_2),
                });
                self.burns.step(lr, tensor, grad, state)
            }
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}
