//! A restricted Boltzmann machine with logistic visible units, trained by one-step
//! contrastive divergence (CD-1, Hinton 2002). Its hidden units are logistic (binary
//! stochastic) or linear with unit-variance Gaussian noise, as in the top layer of Hinton &
//! Salakhutdinov's (2006) stack.

use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};

/// The kind of an RBM's hidden units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenUnits {
    /// Binary stochastic units, on with probability sigmoid(input).
    Logistic,
    /// Linear units with unit-variance Gaussian noise: a real-valued code.
    Gaussian,
}

/// Learning rate, momentum and L2 weight cost of one CD-1 update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CdStep {
    /// Step size on the CD gradient.
    pub learning_rate: f64,
    /// Fraction of the previous update carried into this one.
    pub momentum: f64,
    /// L2 penalty on the weights (not the biases).
    pub weight_cost: f64,
}

/// An RBM's parameters and the momentum of its updates.
#[derive(Debug, Clone)]
pub struct Rbm<B: Backend> {
    /// Weights, `[visible, hidden]`.
    pub weights: Tensor<B, 2>,
    /// Biases of the visible units.
    pub visible_bias: Tensor<B, 1>,
    /// Biases of the hidden units.
    pub hidden_bias: Tensor<B, 1>,
    /// The kind of the hidden units.
    pub hidden_units: HiddenUnits,
    weight_velocity: Tensor<B, 2>,
    visible_velocity: Tensor<B, 1>,
    hidden_velocity: Tensor<B, 1>,
}

impl<B: Backend> Rbm<B> {
    /// An RBM with weights drawn from N(0, 0.1²) and zero biases (the backend's seed decides
    /// the draw).
    pub fn new(
        visible: usize,
        hidden: usize,
        hidden_units: HiddenUnits,
        device: &B::Device,
    ) -> Self {
        let weights = Tensor::random([visible, hidden], Distribution::Normal(0.0, 0.1), device);
        Self {
            weight_velocity: weights.zeros_like(),
            weights,
            visible_bias: Tensor::zeros([visible], device),
            hidden_bias: Tensor::zeros([hidden], device),
            hidden_units,
            visible_velocity: Tensor::zeros([visible], device),
            hidden_velocity: Tensor::zeros([hidden], device),
        }
    }

    /// The hidden units' means given `visible` `[batch, visible]`: their probabilities for
    /// logistic units, their noiseless values for Gaussian ones.
    pub fn hidden_mean(&self, visible: Tensor<B, 2>) -> Tensor<B, 2> {
        let input = visible.matmul(self.weights.clone()) + self.hidden_bias.clone().unsqueeze();
        match self.hidden_units {
            HiddenUnits::Logistic => sigmoid(input),
            HiddenUnits::Gaussian => input,
        }
    }

    /// The visible units' probabilities given `hidden` `[batch, hidden]`.
    pub fn visible_mean(&self, hidden: Tensor<B, 2>) -> Tensor<B, 2> {
        sigmoid(
            hidden.matmul(self.weights.clone().transpose()) + self.visible_bias.clone().unsqueeze(),
        )
    }

    fn sample_hidden(&self, mean: Tensor<B, 2>) -> Tensor<B, 2> {
        let device = mean.device();
        let noise_shape = mean.shape();
        match self.hidden_units {
            HiddenUnits::Logistic => mean
                .greater(Tensor::random(
                    noise_shape,
                    Distribution::Uniform(0.0, 1.0),
                    &device,
                ))
                .float(),
            HiddenUnits::Gaussian => {
                mean + Tensor::random(noise_shape, Distribution::Normal(0.0, 1.0), &device)
            }
        }
    }

    /// One CD-1 update on the batch `visible` `[batch, visible]` (values in [0, 1]): the
    /// data's statistics use the hidden means, the hidden state that drives the
    /// reconstruction is sampled, and the reconstruction's statistics use means throughout.
    /// Returns the batch's summed squared reconstruction error as a one-element tensor, so
    /// that callers can add it up without reading it back every step.
    pub fn contrastive_divergence(&mut self, visible: Tensor<B, 2>, step: CdStep) -> Tensor<B, 1> {
        let batch = visible.dims()[0] as f64;
        let data_hidden = self.hidden_mean(visible.clone());
        let reconstruction = self.visible_mean(self.sample_hidden(data_hidden.clone()));
        let model_hidden = self.hidden_mean(reconstruction.clone());

        let weight_gradient = (visible.clone().transpose().matmul(data_hidden.clone())
            - reconstruction
                .clone()
                .transpose()
                .matmul(model_hidden.clone()))
            / batch;
        let visible_gradient = (visible.clone() - reconstruction.clone())
            .mean_dim(0)
            .squeeze();
        let hidden_gradient = (data_hidden - model_hidden).mean_dim(0).squeeze();

        let rate = step.learning_rate;
        self.weight_velocity = self.weight_velocity.clone() * step.momentum
            + (weight_gradient - self.weights.clone() * step.weight_cost) * rate;
        self.visible_velocity =
            self.visible_velocity.clone() * step.momentum + visible_gradient * rate;
        self.hidden_velocity =
            self.hidden_velocity.clone() * step.momentum + hidden_gradient * rate;
        self.weights = self.weights.clone() + self.weight_velocity.clone();
        self.visible_bias = self.visible_bias.clone() + self.visible_velocity.clone();
        self.hidden_bias = self.hidden_bias.clone() + self.hidden_velocity.clone();

        (visible - reconstruction).powi_scalar(2).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use burn_ndarray::NdArray;

    type B = NdArray<f32>;

    /// Values of a tensor, row-major.
    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec().unwrap()
    }

    /// Mean squared error per item of the reconstructions through the hidden means (no
    /// sampling), summed over the visible units.
    fn mean_field_error(rbm: &Rbm<B>, visible: Tensor<B, 2>) -> f64 {
        let items = visible.dims()[0] as f64;
        let reconstruction = rbm.visible_mean(rbm.hidden_mean(visible.clone()));
        let sum: f32 = (visible - reconstruction)
            .powi_scalar(2)
            .sum()
            .into_scalar();
        f64::from(sum) / items
    }

    /// The exact mean log-likelihood of binary `data` under a small logistic RBM, by summing
    /// over every visible state: log p(v) = −F(v) − log Σ_u exp(−F(u)), with the free energy
    /// F(v) = −a·v − Σ_j log(1 + exp(b_j + v·W_j)).
    fn exact_log_likelihood(rbm: &Rbm<B>, data: &[Vec<f32>]) -> f64 {
        let w = values(rbm.weights.clone());
        let a = values(rbm.visible_bias.clone());
        let b = values(rbm.hidden_bias.clone());
        let (nv, nh) = (a.len(), b.len());
        let free_energy = |v: &[f32]| -> f64 {
            let mut f = -(0..nv).map(|i| (a[i] * v[i]) as f64).sum::<f64>();
            for j in 0..nh {
                let x = b[j] as f64 + (0..nv).map(|i| (v[i] * w[i * nh + j]) as f64).sum::<f64>();
                f -= x.exp().ln_1p();
            }
            f
        };
        let log_z = {
            let energies: Vec<f64> = (0..1usize << nv)
                .map(|s| {
                    let v: Vec<f32> = (0..nv).map(|i| ((s >> i) & 1) as f32).collect();
                    -free_energy(&v)
                })
                .collect();
            let top = energies.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            top + energies.iter().map(|e| (e - top).exp()).sum::<f64>().ln()
        };
        data.iter().map(|v| -free_energy(v) - log_z).sum::<f64>() / data.len() as f64
    }

    #[test]
    fn cd1_raises_the_exact_log_likelihood_of_two_patterns() {
        let device = Default::default();
        B::seed(&device, 5);
        let patterns = [
            vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
            vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
        ];
        let data: Vec<Vec<f32>> = (0..40).map(|i| patterns[i % 2].clone()).collect();
        let batch =
            Tensor::<B, 2>::from_data(TensorData::new(data.concat(), [data.len(), 6]), &device);
        let mut rbm = Rbm::<B>::new(6, 3, HiddenUnits::Logistic, &device);
        let before = exact_log_likelihood(&rbm, &data);
        let error_before = mean_field_error(&rbm, batch.clone());
        let step = CdStep {
            learning_rate: 0.1,
            momentum: 0.5,
            weight_cost: 0.0002,
        };
        for _ in 0..1500 {
            rbm.contrastive_divergence(batch.clone(), step);
        }
        let after = exact_log_likelihood(&rbm, &data);
        let error_after = mean_field_error(&rbm, batch);
        // Two equally likely patterns: the best possible mean log-likelihood is −ln 2.
        assert!(
            before < -3.5,
            "an untrained RBM spreads over 64 states: {before}"
        );
        assert!(
            after > -1.2 && after <= -std::f64::consts::LN_2 + 1e-6,
            "{before} -> {after}"
        );
        assert!(
            error_after < 0.1 * error_before,
            "{error_before} -> {error_after}"
        );
    }

    #[test]
    fn gaussian_hidden_units_are_linear_and_visible_units_logistic() {
        let device = Default::default();
        B::seed(&device, 1);
        let mut rbm = Rbm::<B>::new(3, 2, HiddenUnits::Gaussian, &device);
        rbm.hidden_bias = Tensor::from_data(TensorData::new(vec![0.5f32, -1.0], [2]), &device);
        let v = Tensor::<B, 2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 1.0, 0.0, 1.0, 0.5], [2, 3]),
            &device,
        );
        let w = values(rbm.weights.clone());
        let h = values(rbm.hidden_mean(v.clone()));
        let rows = [[1.0f32, 0.0, 1.0], [0.0, 1.0, 0.5]];
        for (r, row) in rows.iter().enumerate() {
            for (j, bias) in [0.5f32, -1.0].iter().enumerate() {
                let expected: f32 = bias + (0..3).map(|i| row[i] * w[i * 2 + j]).sum::<f32>();
                assert!((h[r * 2 + j] - expected).abs() < 1e-6, "{h:?}");
            }
        }
        let big = Tensor::<B, 2>::from_data(TensorData::new(vec![50.0f32, -50.0], [1, 2]), &device);
        assert!(
            values(rbm.visible_mean(big))
                .iter()
                .all(|p| (0.0..=1.0).contains(p))
        );
    }
}
