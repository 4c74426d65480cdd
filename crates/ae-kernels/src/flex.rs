//! The kernels of [`crate::cpu`] on burn-flex tensors, and as one autodiff operation with its
//! own backward on `Autodiff<Flex>`.

use std::any::{Any, TypeId};
use std::borrow::Cow;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive};
use burn_flex::{Flex, FlexTensor};

use crate::adamw::{AdamMoments, AdamWHyper};
use crate::cpu::{self, Windows};

type Diff = Autodiff<Flex>;

/// The tensors handed back when the backend is not burn-flex.
type Refused<B, const D: usize> = (Tensor<B, D>, Tensor<B, D>, Option<Tensor<B, 1>>);

/// `value` as a `T` when `S` is `T` (callers test the `TypeId`s first).
fn cast<S: 'static, T: 'static>(value: S) -> Option<T> {
    let mut slot = Some(value);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
}

fn primitive<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> FloatTensor<B> {
    tensor.into_primitive().tensor()
}

fn tensor<B: Backend, const D: usize>(primitive: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

/// The tensor's values in row-major order, borrowed when already laid out so.
fn values(tensor: &FlexTensor) -> Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => Cow::Borrowed(values),
        // Callers checked that the values are f32: only the layout is in the way.
        None => Cow::Owned(
            tensor
                .to_contiguous()
                .into_data()
                .into_vec::<f32>()
                .expect("an f32 tensor's data is f32 values"),
        ),
    }
}

fn flex_tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Which operation, with its windows and channel count on the other side, or its sizes.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// A dense layer `x · weight + bias` with a `[inputs, outputs]` weight, followed by a
    /// ReLU with `relu`.
    Linear {
        inputs: usize,
        outputs: usize,
        relu: bool,
    },
    /// A convolution with this many output channels.
    Conv { win: Windows, out_channels: usize },
    /// A transposed convolution with this many input channels.
    Transpose { win: Windows, in_channels: usize },
}

impl Op {
    fn forward(
        &self,
        x: &FlexTensor,
        weight: &FlexTensor,
        bias: Option<&FlexTensor>,
    ) -> FlexTensor {
        let items = x.layout().shape()[0];
        let bias = bias.map(values);
        let (xs, ws) = (values(x), values(weight));
        match *self {
            Op::Linear {
                inputs,
                outputs,
                relu,
            } => {
                let out = cpu::linear(&xs, items, &ws, [inputs, outputs], bias.as_deref(), relu);
                flex_tensor(out, vec![items, outputs])
            }
            Op::Conv { win, out_channels } => {
                let out = cpu::conv2d(&win, items, &xs, &ws, out_channels, bias.as_deref());
                flex_tensor(out, vec![items, out_channels, win.grid[0], win.grid[1]])
            }
            Op::Transpose { win, in_channels } => {
                let out =
                    cpu::conv_transpose2d(&win, items, &xs, &ws, in_channels, bias.as_deref());
                flex_tensor(out, vec![items, win.channels, win.image[0], win.image[1]])
            }
        }
    }

    fn backward(
        &self,
        x: &FlexTensor,
        weight: &FlexTensor,
        grad: &FlexTensor,
        wanted: cpu::Wanted,
    ) -> cpu::ConvGrads {
        let items = x.layout().shape()[0];
        let (xs, ws, gs) = (values(x), values(weight), values(grad));
        match *self {
            Op::Linear {
                inputs, outputs, ..
            } => cpu::linear_backward(&xs, items, &ws, [inputs, outputs], &gs, wanted),
            Op::Conv { win, out_channels } => {
                cpu::conv2d_backward(&win, items, &xs, &ws, out_channels, &gs, wanted)
            }
            Op::Transpose { win, in_channels } => {
                cpu::conv_transpose2d_backward(&win, items, &xs, &ws, in_channels, &gs, wanted)
            }
        }
    }

    /// Whether the backward needs the output (a ReLU's mask).
    fn keeps_output(&self) -> bool {
        matches!(self, Op::Linear { relu: true, .. })
    }
}

/// The backward of one convolution or dense layer: `N` is 2 without a bias, 3 with one. Its
/// state holds the output too when [`Op::keeps_output`].
#[derive(Debug)]
struct ConvBackward<const N: usize>;

impl<const N: usize> Backward<Flex, N> for ConvBackward<N> {
    type State = (Op, FlexTensor, FlexTensor, Option<FlexTensor>);

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (op, x, weight, output) = ops.state;
        let mut grad = grads.consume::<Flex>(&ops.node);
        if let Some(output) = output {
            let shape = output.layout().shape().to_vec();
            let masked = cpu::relu_backward(&values(&output), &values(&grad));
            grad = flex_tensor(masked, shape);
        }
        let mut parents = ops.parents.into_iter();
        let (node_x, node_weight) = (parents.next().flatten(), parents.next().flatten());
        let node_bias = parents.next().flatten();
        let wanted = cpu::Wanted {
            x: node_x.is_some(),
            weight: node_weight.is_some(),
            bias: node_bias.is_some(),
        };
        let grads_out = op.backward(&x, &weight, &grad, wanted);
        let shape = |t: &FlexTensor| t.layout().shape().to_vec();
        if let (Some(node), Some(values)) = (node_x, grads_out.x) {
            grads.register::<Flex>(node.id, flex_tensor(values, shape(&x)));
        }
        if let (Some(node), Some(values)) = (node_weight, grads_out.weight) {
            grads.register::<Flex>(node.id, flex_tensor(values, shape(&weight)));
        }
        if let (Some(node), Some(values)) = (node_bias, grads_out.bias) {
            let len = values.len();
            grads.register::<Flex>(node.id, flex_tensor(values, vec![len]));
        }
    }
}

/// `op` on `Autodiff<Flex>` tensors, recorded with its own backward.
fn tracked(
    op: Op,
    x: FloatTensor<Diff>,
    weight: FloatTensor<Diff>,
    bias: Option<FloatTensor<Diff>>,
) -> FloatTensor<Diff> {
    let output = op.forward(
        &x.primitive,
        &weight.primitive,
        bias.as_ref().map(|b| &b.primitive),
    );
    let kept = op.keeps_output().then(|| output.clone());
    let state = (op, x.primitive.clone(), weight.primitive.clone(), kept);
    match bias {
        Some(bias) => match ConvBackward::<3>
            .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone(), bias.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(state, output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        },
        None => match ConvBackward::<2>
            .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(state, output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        },
    }
}

/// Runs `op` when `B` is `Autodiff<Flex>` or `Flex`; hands the tensors back otherwise.
fn run<B: Backend, const D: usize>(
    op: Op,
    x: Tensor<B, D>,
    weight: Tensor<B, D>,
    bias: Option<Tensor<B, 1>>,
) -> Result<Tensor<B, D>, Refused<B, D>> {
    if TypeId::of::<B>() == TypeId::of::<Diff>() {
        const SAME: &str = "B is Autodiff<Flex>";
        let x = cast::<_, FloatTensor<Diff>>(primitive(x)).expect(SAME);
        let weight = cast::<_, FloatTensor<Diff>>(primitive(weight)).expect(SAME);
        let bias = bias.map(|b| cast::<_, FloatTensor<Diff>>(primitive(b)).expect(SAME));
        let out = tracked(op, x, weight, bias);
        return Ok(tensor(cast::<_, FloatTensor<B>>(out).expect(SAME)));
    }
    if TypeId::of::<B>() == TypeId::of::<Flex>() {
        const SAME: &str = "B is Flex";
        let x = cast::<_, FlexTensor>(primitive(x)).expect(SAME);
        let weight = cast::<_, FlexTensor>(primitive(weight)).expect(SAME);
        let bias = bias.map(|b| cast::<_, FlexTensor>(primitive(b)).expect(SAME));
        let out = op.forward(&x, &weight, bias.as_ref());
        return Ok(tensor(cast::<_, FloatTensor<B>>(out).expect(SAME)));
    }
    Err((x, weight, bias))
}

/// [`crate::conv2d`] on burn-flex.
pub(crate) fn conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    win: Windows,
) -> Result<Tensor<B, 4>, Refused<B, 4>> {
    let out_channels = weight.dims()[0];
    run(Op::Conv { win, out_channels }, x, weight, bias)
}

/// [`crate::linear`] (and with `relu` [`crate::linear_relu`]) on burn-flex: `x` is `[rows,
/// inputs]`, `weight` `[inputs, outputs]`.
pub(crate) fn linear<B: Backend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
    relu: bool,
) -> Result<Tensor<B, 2>, Refused<B, 2>> {
    let [inputs, outputs] = weight.dims();
    let op = Op::Linear {
        inputs,
        outputs,
        relu,
    };
    run(op, x, weight, bias)
}

/// [`crate::dense_stack`] on burn-flex without autodiff (the caller checked the dtypes and
/// sizes); `x` back on any other backend.
pub(crate) fn dense_stack<B: Backend>(
    x: Tensor<B, 2>,
    layers: &[crate::StackLayer<B>],
) -> Result<Tensor<B, 2>, Tensor<B, 2>> {
    if TypeId::of::<B>() != TypeId::of::<Flex>() {
        return Err(x);
    }
    const SAME: &str = "B is Flex";
    fn flex<B: Backend, const D: usize>(t: Tensor<B, D>) -> FlexTensor {
        cast::<_, FlexTensor>(primitive(t)).expect(SAME)
    }
    let x = flex(x);
    let tensors: Vec<(FlexTensor, Option<FlexTensor>)> = layers
        .iter()
        .map(|l| (flex(l.weight.clone()), l.bias.clone().map(flex)))
        .collect();
    let slices: Vec<_> = tensors
        .iter()
        .map(|(w, b)| (values(w), b.as_ref().map(values)))
        .collect();
    let cpu_layers: Vec<cpu::DenseLayer> = layers
        .iter()
        .zip(&slices)
        .map(|(layer, (w, b))| cpu::DenseLayer {
            weight: w,
            sizes: layer.weight.dims(),
            bias: b.as_deref(),
            relu: layer.relu,
        })
        .collect();
    let shape = x.layout().shape();
    let (rows, width) = (shape[0], shape[1]);
    let out = cpu::dense_stack(&values(&x), rows, &cpu_layers);
    let outputs = layers.last().map_or(width, |l| l.weight.dims()[1]);
    let out = flex_tensor(out, vec![rows, outputs]);
    Ok(tensor(cast::<_, FloatTensor<B>>(out).expect(SAME)))
}

/// [`crate::conv_transpose2d`] on burn-flex.
pub(crate) fn conv_transpose2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    win: Windows,
) -> Result<Tensor<B, 4>, Refused<B, 4>> {
    let in_channels = weight.dims()[0];
    run(Op::Transpose { win, in_channels }, x, weight, bias)
}

/// The tensor laid out row-major from offset 0, so that its storage is its values.
fn row_major(tensor: FlexTensor) -> FlexTensor {
    if tensor.is_contiguous() && tensor.layout().start_offset() == 0 {
        tensor
    } else {
        tensor.to_contiguous()
    }
}

/// [`crate::adamw_step`] on burn-flex.
pub(crate) fn adamw<B: Backend, const D: usize>(
    hyper: &AdamWHyper,
    lr: f64,
    param: Tensor<B, D>,
    grad: Tensor<B, D>,
    moments: Option<AdamMoments<B, D>>,
) -> Result<(Tensor<B, D>, AdamMoments<B, D>), crate::adamw::Declined<B, D>> {
    let f32s = param.dtype() == DType::F32
        && grad.dtype() == DType::F32
        && moments
            .as_ref()
            .is_none_or(|m| m.moment_1.dtype() == DType::F32 && m.moment_2.dtype() == DType::F32);
    if TypeId::of::<B>() != TypeId::of::<Flex>() || !f32s || param.shape() != grad.shape() {
        return Err((param, grad, moments));
    }
    const SAME: &str = "B is Flex";
    let shape = param.dims().to_vec();
    let flex = |t: Tensor<B, D>| cast::<_, FlexTensor>(primitive(t)).expect(SAME);
    let mut p = row_major(flex(param));
    let g = flex(grad);
    let g = values(&g);
    let n = g.len();
    let (time, mut m, mut v) = match moments {
        Some(state) => (
            state.time + 1,
            row_major(flex(state.moment_1)),
            row_major(flex(state.moment_2)),
        ),
        None => (
            1,
            flex_tensor(vec![0.0; n], shape.clone()),
            flex_tensor(vec![0.0; n], shape.clone()),
        ),
    };
    // The moments in place (`storage_mut` copies a buffer only when another tensor shares
    // it); the parameter too unless shared (the learner may hold the model elsewhere), when
    // its new values are written to a new buffer instead of a copy updated in place.
    let (m_values, v_values) = (
        &mut m.storage_mut::<f32>()[..n],
        &mut v.storage_mut::<f32>()[..n],
    );
    if p.is_unique() {
        let p_values = &mut p.storage_mut::<f32>()[..n];
        crate::adamw::adamw_update(hyper, lr, time, p_values, &g, m_values, v_values);
    } else {
        let new = crate::adamw::adamw_update_from(
            hyper,
            lr,
            time,
            &p.storage::<f32>()[..n],
            &g,
            m_values,
            v_values,
        );
        p = flex_tensor(new, shape);
    }
    let back = |t: FlexTensor| tensor::<B, D>(cast::<_, FloatTensor<B>>(t).expect(SAME));
    Ok((
        back(p),
        AdamMoments {
            time,
            moment_1: back(m),
            moment_2: back(v),
        },
    ))
}

/// The backward of the fused binary cross-entropy: parents logits and target.
#[derive(Debug)]
struct BceBackward;

impl Backward<Flex, 2> for BceBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (logits, target) = ops.state;
        let grad = grads.consume::<Flex>(&ops.node);
        let [node_logits, node_target] = ops.parents;
        let shape = logits.layout().shape().to_vec();
        let cols = shape[1];
        let (l, x, g) = (values(&logits), values(&target), values(&grad));
        let (dl, dx) = crate::loss::bce_rows_backward(
            &l,
            &x,
            cols,
            &g,
            node_logits.is_some(),
            node_target.is_some(),
        );
        if let (Some(node), Some(dl)) = (node_logits, dl) {
            grads.register::<Flex>(node.id, flex_tensor(dl, shape.clone()));
        }
        if let (Some(node), Some(dx)) = (node_target, dx) {
            grads.register::<Flex>(node.id, flex_tensor(dx, shape));
        }
    }
}

/// [`crate::loss::bce_with_logits`] on burn-flex.
pub(crate) fn bce_with_logits<B: Backend>(
    logits: Tensor<B, 2>,
    target: Tensor<B, 2>,
) -> Result<Tensor<B, 1>, (Tensor<B, 2>, Tensor<B, 2>)> {
    let f32s = logits.dtype() == DType::F32 && target.dtype() == DType::F32;
    if !f32s || logits.dims() != target.dims() {
        return Err((logits, target));
    }
    let forward = |l: &FlexTensor, x: &FlexTensor| {
        let [rows, cols] = [l.layout().shape()[0], l.layout().shape()[1]];
        let out = crate::loss::bce_rows(&values(l), &values(x), cols);
        flex_tensor(out, vec![rows])
    };
    if TypeId::of::<B>() == TypeId::of::<Diff>() {
        const SAME: &str = "B is Autodiff<Flex>";
        let l = cast::<_, FloatTensor<Diff>>(primitive(logits)).expect(SAME);
        let x = cast::<_, FloatTensor<Diff>>(primitive(target)).expect(SAME);
        let output = forward(&l.primitive, &x.primitive);
        let out = match BceBackward
            .prepare::<NoCheckpointing>([l.node.clone(), x.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish((l.primitive.clone(), x.primitive.clone()), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(output),
        };
        return Ok(tensor(cast::<_, FloatTensor<B>>(out).expect(SAME)));
    }
    if TypeId::of::<B>() == TypeId::of::<Flex>() {
        const SAME: &str = "B is Flex";
        let l = cast::<_, FlexTensor>(primitive(logits)).expect(SAME);
        let x = cast::<_, FlexTensor>(primitive(target)).expect(SAME);
        return Ok(tensor(
            cast::<_, FloatTensor<B>>(forward(&l, &x)).expect(SAME),
        ));
    }
    Err((logits, target))
}

/// Whether `B` is burn-flex, with or without autodiff.
pub(crate) fn is_flex<B: Backend>() -> bool {
    TypeId::of::<B>() == TypeId::of::<Flex>() || TypeId::of::<B>() == TypeId::of::<Diff>()
}

/// The backward of the sigmoid: its state is the output.
#[derive(Debug)]
struct SigmoidBackward;

impl Backward<Flex, 1> for SigmoidBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        let grad = grads.consume::<Flex>(&ops.node);
        let [node] = ops.parents;
        if let Some(node) = node {
            let shape = output.layout().shape().to_vec();
            let dx = crate::sigmoid::sigmoid_backward_slice(&values(&output), &values(&grad));
            grads.register::<Flex>(node.id, flex_tensor(dx, shape));
        }
    }
}

/// [`crate::sigmoid()`] on burn-flex.
pub(crate) fn sigmoid<B: Backend, const D: usize>(
    x: Tensor<B, D>,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    if x.dtype() != DType::F32 {
        return Err(x);
    }
    let forward = |x: &FlexTensor| {
        let shape = x.layout().shape().to_vec();
        flex_tensor(crate::sigmoid::sigmoid_slice(&values(x)), shape)
    };
    if TypeId::of::<B>() == TypeId::of::<Diff>() {
        const SAME: &str = "B is Autodiff<Flex>";
        let x = cast::<_, FloatTensor<Diff>>(primitive(x)).expect(SAME);
        let output = forward(&x.primitive);
        let out = match SigmoidBackward
            .prepare::<NoCheckpointing>([x.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        };
        return Ok(tensor(cast::<_, FloatTensor<B>>(out).expect(SAME)));
    }
    if TypeId::of::<B>() == TypeId::of::<Flex>() {
        const SAME: &str = "B is Flex";
        let x = cast::<_, FlexTensor>(primitive(x)).expect(SAME);
        return Ok(tensor(cast::<_, FloatTensor<B>>(forward(&x)).expect(SAME)));
    }
    Err(x)
}
