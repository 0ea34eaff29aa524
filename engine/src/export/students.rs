//! Each student's forward pass, from features to logits and temporal attention, as an ONNX graph
//! that computes what `StudentModel::forward` computes at inference (dropout off, batch norm on
//! its running statistics).

use super::ExportError;
use super::onnx::{Attribute, Dim, Graph, TO_FLOAT};
use crate::students::{
    Architecture, AttRnnConfig, CrnnConfig, Int8Codes, LstmPConfig, Precision, StudentConfig,
    TcResNetConfig, is_rounded,
};
use burn::tensor::f16;
use std::collections::HashMap;

/// burn's `BatchNormConfig` default, which every student's batch norm keeps.
const BATCH_NORM_EPSILON: f32 = 1e-5;

/// A parameter read back from the device: its shape and values.
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// What the graph's outputs are.
pub struct Outputs {
    pub logits: String,
    pub attention: String,
    /// Every head's distribution, for the students with attention of their own.
    pub heads: Option<String>,
}

/// The graph of `config`'s student with the weights in `weights` (keys without the module's
/// root name: `classifier.weight`), its matrices and kernels stored at `precision` (see
/// `students::precision`: the same rounding, tensor by tensor). Returns the graph with its input
/// `features` and outputs `logits`, `attention` and, for Att-RNN and MHAtt-RNN,
/// `attention_heads`.
pub fn student_graph(
    config: &StudentConfig,
    weights: &HashMap<String, HostTensor>,
    precision: Precision,
) -> Result<Graph, ExportError> {
    let mut builder = Builder {
        graph: Graph::new(config.arch_name()),
        weights,
        precision,
    };
    let features = builder.graph.input(
        "features",
        vec![
            Dim::Named("batch"),
            Dim::Named("frames"),
            Dim::Fixed(config.input_size()),
        ],
    );
    let outputs = match &config.arch {
        Architecture::LstmP(layout) => builder.lstm_p(layout, &features)?,
        Architecture::TcResNet(layout) => builder.tc_resnet(layout, &features)?,
        Architecture::Crnn(layout) => builder.crnn(layout, &features)?,
        Architecture::AttRnn(layout) | Architecture::MhattRnn(layout) => {
            builder.att_rnn(layout, &features)?
        }
    };
    let mut graph = builder.graph;
    let batch = Dim::Named("batch");
    graph.output(
        &outputs.logits,
        "logits",
        vec![batch.clone(), Dim::Fixed(config.classes())],
    );
    graph.output(
        &outputs.attention,
        "attention",
        vec![batch.clone(), Dim::Named("student_frames")],
    );
    if let Some(heads) = &outputs.heads {
        let count = match &config.arch {
            Architecture::AttRnn(layout) | Architecture::MhattRnn(layout) => layout.heads,
            _ => 1,
        };
        graph.output(
            heads,
            "attention_heads",
            vec![batch, Dim::Fixed(count), Dim::Named("student_frames")],
        );
    }
    Ok(graph)
}

struct Builder<'w> {
    graph: Graph,
    weights: &'w HashMap<String, HostTensor>,
    precision: Precision,
}

fn ints(values: &[i64]) -> Attribute {
    Attribute::Ints(values.to_vec())
}

/// A weight in `graph` at `precision`: as floats, as half-precision values cast to float, or as
/// int8 codes through `DequantizeLinear` with the tensor's scale.
fn stored(
    graph: &mut Graph,
    precision: Precision,
    hint: &str,
    dims: &[usize],
    values: Vec<f32>,
) -> String {
    match precision {
        Precision::F32 => graph.floats(hint, dims, values),
        Precision::F16 => {
            let bits = values.iter().map(|&v| f16::from_f32(v).to_bits()).collect();
            let halves = graph.halves(hint, dims, bits);
            graph.op("Cast", &[&halves], vec![("to", Attribute::Int(TO_FLOAT))])
        }
        Precision::Int8 => {
            let quantized = Int8Codes::quantize(&values);
            let codes = graph.int8s(hint, dims, quantized.codes);
            let scale = graph.float_scalar("scale", quantized.scale);
            let zero = graph.int8s("zero_point", &[], vec![0]);
            graph.op("DequantizeLinear", &[&codes, &scale, &zero], Vec::new())
        }
    }
}

impl Builder<'_> {
    /// A weight by key, which must have `rank` dimensions.
    fn weight(&self, key: &str, rank: usize) -> Result<&HostTensor, ExportError> {
        let tensor = self
            .weights
            .get(key)
            .ok_or_else(|| ExportError::MissingWeight(key.to_owned()))?;
        if tensor.shape.len() != rank
            || tensor.values.len() != tensor.shape.iter().product::<usize>()
        {
            return Err(ExportError::WeightShape {
                key: key.to_owned(),
                shape: tensor.shape.clone(),
            });
        }
        Ok(tensor)
    }

    /// A weight stored in the graph in its own shape, at the export's precision if it is a
    /// matrix or a kernel.
    fn constant(&mut self, key: &str, rank: usize) -> Result<String, ExportError> {
        let tensor = self.weight(key, rank)?;
        let (shape, values) = (tensor.shape.clone(), tensor.values.clone());
        let precision = self.precision_of(&shape);
        Ok(stored(&mut self.graph, precision, key, &shape, values))
    }

    /// The precision a parameter of this (saved) shape is stored at.
    fn precision_of(&self, shape: &[usize]) -> Precision {
        match is_rounded(shape) {
            true => self.precision,
            false => Precision::F32,
        }
    }

    fn unary(&mut self, op: &'static str, x: &str) -> String {
        self.graph.op(op, &[x], Vec::new())
    }

    fn binary(&mut self, op: &'static str, a: &str, b: &str) -> String {
        self.graph.op(op, &[a, b], Vec::new())
    }

    fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.graph.op("Transpose", &[x], vec![("perm", ints(perm))])
    }

    fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let shape = self.graph.ints(shape);
        self.graph.op("Reshape", &[x, &shape], Vec::new())
    }

    fn squeeze(&mut self, x: &str, axis: i64) -> String {
        let axes = self.graph.ints(&[axis]);
        self.graph.op("Squeeze", &[x, &axes], Vec::new())
    }

    /// burn's `Linear`: `x·W + b`, its weight stored `[in, out]`.
    fn linear(&mut self, x: &str, prefix: &str) -> Result<String, ExportError> {
        let weight = self.constant(&format!("{prefix}.weight"), 2)?;
        let bias = self.constant(&format!("{prefix}.bias"), 1)?;
        let product = self.binary("MatMul", x, &weight);
        Ok(self.binary("Add", &product, &bias))
    }

    /// A 1-D or 2-D convolution (burn's weight layout is ONNX's: `[out, in, kernel…]`).
    fn conv(
        &mut self,
        x: &str,
        prefix: &str,
        rank: usize,
        strides: &[i64],
        pads: &[i64],
        bias: bool,
    ) -> Result<String, ExportError> {
        let weight = self.constant(&format!("{prefix}.weight"), rank + 2)?;
        let mut inputs = vec![x.to_owned(), weight];
        if bias {
            inputs.push(self.constant(&format!("{prefix}.bias"), 1)?);
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(self.graph.op(
            "Conv",
            &inputs,
            vec![("strides", ints(strides)), ("pads", ints(pads))],
        ))
    }

    /// burn's `BatchNorm` at inference, over the channels of axis 1.
    fn batch_norm(&mut self, x: &str, prefix: &str) -> Result<String, ExportError> {
        let inputs = [
            self.constant(&format!("{prefix}.gamma"), 1)?,
            self.constant(&format!("{prefix}.beta"), 1)?,
            self.constant(&format!("{prefix}.running_mean"), 1)?,
            self.constant(&format!("{prefix}.running_var"), 1)?,
        ];
        Ok(self.graph.op(
            "BatchNormalization",
            &[x, &inputs[0], &inputs[1], &inputs[2], &inputs[3]],
            vec![("epsilon", Attribute::Float(BATCH_NORM_EPSILON))],
        ))
    }

    /// The training-only query head `softmax(c′·q)` over `context` `[B, T, D]` → `[B, T]`.
    fn temporal_query(&mut self, context: &str) -> Result<String, ExportError> {
        let query = self.weight("attention_head.q", 1)?;
        let (dim, values) = (query.shape[0], query.values.clone());
        let query = self.graph.floats("attention_head.q", &[dim, 1], values);
        let scores = self.binary("MatMul", context, &query); // [B, T, 1]
        let scores = self.squeeze(&scores, 2);
        Ok(self
            .graph
            .op("Softmax", &[&scores], vec![("axis", Attribute::Int(1))]))
    }

    /// GRUs over the same input as one ONNX `GRU` (one, or a forward and a backward one).
    ///
    /// # Shapes
    /// - `x`: `[B, T, I]` → the states `[B, T, dirs·H]` (directions concatenated per frame) and
    ///   each direction's last state `[dirs, B, H]`
    fn gru(&mut self, x: &str, prefixes: &[String]) -> Result<(String, String), ExportError> {
        // Ours: weight_ih `[I, 3H]`, weight_hh `[H, 3H]`, gates reset, update, new. ONNX: W
        // `[dirs, 3H, I]`, R `[dirs, 3H, H]`, gates update, reset, new; B `[dirs, 6H]`.
        const ONNX_GATE_ORDER: [usize; 3] = [1, 0, 2];
        // Each direction's matrices apart, as the student saves them, so each keeps its own
        // int8 scale; concatenated after they are read back.
        let mut w = Vec::new();
        let mut r = Vec::new();
        let mut b = Vec::new();
        let (mut input, mut hidden) = (0, 0);
        for prefix in prefixes {
            let weight_ih = self.weight(&format!("{prefix}.weight_ih"), 2)?;
            let weight_hh = self.weight(&format!("{prefix}.weight_hh"), 2)?;
            let bias_ih = self.weight(&format!("{prefix}.bias_ih"), 1)?;
            let bias_hh = self.weight(&format!("{prefix}.bias_hh"), 1)?;
            (input, hidden) = (weight_ih.shape[0], weight_hh.shape[0]);
            let consistent = weight_ih.shape[1] == 3 * hidden
                && weight_hh.shape[1] == 3 * hidden
                && bias_ih.shape[0] == 3 * hidden
                && bias_hh.shape[0] == 3 * hidden;
            if !consistent {
                return Err(ExportError::WeightShape {
                    key: format!("{prefix}.weight_hh"),
                    shape: weight_hh.shape.clone(),
                });
            }
            for (matrix, rows, out) in [(weight_ih, input, &mut w), (weight_hh, hidden, &mut r)] {
                let mut reordered = Vec::with_capacity(matrix.values.len());
                for &gate in &ONNX_GATE_ORDER {
                    for unit in 0..hidden {
                        let column = gate * hidden + unit;
                        reordered
                            .extend((0..rows).map(|row| matrix.values[row * 3 * hidden + column]));
                    }
                }
                out.push(reordered);
            }
            for bias in [bias_ih, bias_hh] {
                for &gate in &ONNX_GATE_ORDER {
                    b.extend_from_slice(&bias.values[gate * hidden..(gate + 1) * hidden]);
                }
            }
        }
        let dirs = prefixes.len();
        let name = &prefixes[0];
        let w = self.directions(&format!("{name}.W"), [3 * hidden, input], w);
        let r = self.directions(&format!("{name}.R"), [3 * hidden, hidden], r);
        let b = self
            .graph
            .floats(&format!("{name}.B"), &[dirs, 6 * hidden], b);
        let sequence_first = self.transpose(x, &[1, 0, 2]); // [T, B, I]
        let direction = if dirs == 2 {
            "bidirectional"
        } else {
            "forward"
        };
        let attributes = vec![
            ("hidden_size", Attribute::Int(hidden as i64)),
            // The reset gate scales the hidden product after its bias, as PyTorch's GRU does.
            ("linear_before_reset", Attribute::Int(1)),
            ("direction", Attribute::Text(direction)),
        ];
        let outputs = self
            .graph
            .op_outputs("GRU", &[&sequence_first, &w, &r, &b], 2, attributes);
        let states = self.transpose(&outputs[0], &[2, 0, 1, 3]); // [B, T, dirs, H]
        let states = self.reshape(&states, &[0, 0, -1]);
        Ok((states, outputs[1].clone()))
    }

    /// One `[dirs, rows, columns]` input of a GRU from each direction's matrix, each stored at
    /// the export's precision.
    fn directions(&mut self, hint: &str, dims: [usize; 2], matrices: Vec<Vec<f32>>) -> String {
        let precision = self.precision_of(&dims);
        let parts: Vec<String> = matrices
            .into_iter()
            .map(|values| {
                stored(
                    &mut self.graph,
                    precision,
                    hint,
                    &[1, dims[0], dims[1]],
                    values,
                )
            })
            .collect();
        match parts.as_slice() {
            [one] => one.clone(),
            _ => {
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                self.graph
                    .op("Concat", &parts, vec![("axis", Attribute::Int(0))])
            }
        }
    }

    /// LSTM-P: the inputs of every frame projected at once, then an ONNX `Scan` whose body is
    /// one step of the peephole LSTM with its projection (ONNX's `LSTM` has peepholes but no
    /// projection).
    fn lstm_p(&mut self, layout: &LstmPConfig, features: &str) -> Result<Outputs, ExportError> {
        let (units, projection) = (layout.units, layout.projection);
        let weight_ih = self.constant("lstm.weight_ih", 2)?;
        let bias = self.constant("lstm.bias", 1)?;
        let projected = self.binary("MatMul", features, &weight_ih);
        let projected = self.binary("Add", &projected, &bias); // [B, T, 4H]
        let projected = self.transpose(&projected, &[1, 0, 2]); // [T, B, 4H]

        let shape = self.unary("Shape", features);
        let first = self.graph.ints(&[0]);
        let batch = self.graph.op(
            "Gather",
            &[&shape, &first],
            vec![("axis", Attribute::Int(0))],
        );
        let zeros = |builder: &mut Self, width: usize| {
            let width = builder.graph.ints(&[width as i64]);
            let state_shape = builder.graph.op(
                "Concat",
                &[&batch, &width],
                vec![("axis", Attribute::Int(0))],
            );
            // The value spelled out: some runtimes take the default zero as a double.
            builder.graph.op(
                "ConstantOfShape",
                &[&state_shape],
                vec![("value", Attribute::FloatTensor(0.0))],
            )
        };
        let h0 = zeros(self, projection);
        let c0 = zeros(self, units);

        let body = self.lstm_step(units, projection)?;
        let outputs = self.graph.op_outputs(
            "Scan",
            &[&h0, &c0, &projected],
            3,
            vec![
                ("body", Attribute::Graph(Box::new(body))),
                ("num_scan_inputs", Attribute::Int(1)),
            ],
        );
        let states = self.transpose(&outputs[2], &[1, 0, 2]); // [B, T, P]
        let logits = self.linear(&outputs[0], "classifier")?;
        let attention = self.temporal_query(&states)?;
        Ok(Outputs {
            logits,
            attention,
            heads: None,
        })
    }

    /// One step of the peephole LSTM with projection, as a graph from (h, c, the frame's
    /// projected input) to (h′, c′, h′).
    fn lstm_step(&mut self, units: usize, projection: usize) -> Result<Graph, ExportError> {
        let mut body = self.graph.subgraph("lstm_step");
        let h = body.input("h", vec![Dim::Unknown, Dim::Fixed(projection)]);
        let c = body.input("c", vec![Dim::Unknown, Dim::Fixed(units)]);
        let g = body.input("gates", vec![Dim::Unknown, Dim::Fixed(4 * units)]);
        let tensor = |key: &str, rank| {
            self.weight(key, rank)
                .map(|t| (t.shape.clone(), t.values.clone()))
        };
        let precision = self.precision;
        let (shape, values) = tensor("lstm.weight_hh", 2)?;
        let weight_hh = stored(&mut body, precision, "lstm.weight_hh", &shape, values);
        let (shape, values) = tensor("lstm.projection", 2)?;
        let projection_weight = stored(&mut body, precision, "lstm.projection", &shape, values);
        let mut peephole = |name: &str| {
            let key = format!("lstm.peephole_{name}");
            tensor(&key, 1).map(|(shape, values)| body.floats(&key, &shape, values))
        };
        let [p_input, p_forget, p_output] =
            [peephole("input")?, peephole("forget")?, peephole("output")?];

        let recurrent = body.op("MatMul", &[&h, &weight_hh], Vec::new());
        let gates = body.op("Add", &[&g, &recurrent], Vec::new());
        let split = body.ints(&[units as i64; 4]);
        let parts = body.op_outputs(
            "Split",
            &[&gates, &split],
            4,
            vec![("axis", Attribute::Int(1))],
        );
        let gate = |body: &mut Graph, pre: &str, peephole: &str, cell: &str| {
            let seen = body.op("Mul", &[peephole, cell], Vec::new());
            let sum = body.op("Add", &[pre, &seen], Vec::new());
            body.op("Sigmoid", &[&sum], Vec::new())
        };
        let input_gate = gate(&mut body, &parts[0], &p_input, &c);
        let forget_gate = gate(&mut body, &parts[1], &p_forget, &c);
        let candidate = body.op("Tanh", &[&parts[2]], Vec::new());
        let kept = body.op("Mul", &[&forget_gate, &c], Vec::new());
        let written = body.op("Mul", &[&input_gate, &candidate], Vec::new());
        let cell = body.op("Add", &[&kept, &written], Vec::new());
        let output_gate = gate(&mut body, &parts[3], &p_output, &cell);
        let squashed = body.op("Tanh", &[&cell], Vec::new());
        let unprojected = body.op("Mul", &[&output_gate, &squashed], Vec::new());
        let h_next = body.op("MatMul", &[&unprojected, &projection_weight], Vec::new());
        let batch = || Dim::Unknown;
        body.output(&h_next, "h_next", vec![batch(), Dim::Fixed(projection)]);
        body.output(&cell, "c_next", vec![batch(), Dim::Fixed(units)]);
        body.output(&h_next, "h_frame", vec![batch(), Dim::Fixed(projection)]);
        Ok(body)
    }

    fn tc_resnet(
        &mut self,
        layout: &TcResNetConfig,
        features: &str,
    ) -> Result<Outputs, ExportError> {
        let x = self.transpose(features, &[0, 2, 1]); // [B, F, T]
        let pad = |kernel: usize| [(kernel / 2) as i64; 2];
        let x = self.conv(&x, "first", 1, &[1], &pad(layout.first_kernel), false)?;
        let x = self.batch_norm(&x, "first_norm")?;
        let mut x = self.unary("Relu", &x);
        let mut width = layout.first_channels;
        let mut index = 0;
        for &channels in &layout.stages {
            for repeat in 0..layout.blocks_per_stage {
                let stride = if repeat == 0 { 2 } else { 1 };
                let block = format!("blocks.{index}");
                let y = self.conv(
                    &x,
                    &format!("{block}.conv1"),
                    1,
                    &[stride],
                    &pad(layout.kernel),
                    false,
                )?;
                let y = self.batch_norm(&y, &format!("{block}.norm1"))?;
                let y = self.unary("Relu", &y);
                let y = self.conv(
                    &y,
                    &format!("{block}.conv2"),
                    1,
                    &[1],
                    &pad(layout.kernel),
                    false,
                )?;
                let y = self.batch_norm(&y, &format!("{block}.norm2"))?;
                let skip = if stride != 1 || width != channels {
                    let s = self.conv(
                        &x,
                        &format!("{block}.shortcut.conv"),
                        1,
                        &[stride],
                        &[0, 0],
                        false,
                    )?;
                    let s = self.batch_norm(&s, &format!("{block}.shortcut.norm"))?;
                    self.unary("Relu", &s)
                } else {
                    x.clone()
                };
                let sum = self.binary("Add", &y, &skip);
                x = self.unary("Relu", &sum);
                width = channels;
                index += 1;
            }
        }
        let pooled = self.graph.op(
            "ReduceMean",
            &[&x],
            vec![("axes", ints(&[2])), ("keepdims", Attribute::Int(0))],
        );
        let logits = self.linear(&pooled, "classifier")?;
        let context = self.transpose(&x, &[0, 2, 1]); // [B, T', C]
        let attention = self.temporal_query(&context)?;
        Ok(Outputs {
            logits,
            attention,
            heads: None,
        })
    }

    fn crnn(&mut self, layout: &CrnnConfig, features: &str) -> Result<Outputs, ExportError> {
        let axis = self.graph.ints(&[1]);
        let mut x = self.graph.op("Unsqueeze", &[features, &axis], Vec::new()); // [B, 1, T, F]
        for index in 0..layout.conv_channels.len() {
            let y = self.conv(
                &x,
                &format!("convs.{index}"),
                2,
                &[1, 1],
                &[0, 0, 0, 0],
                true,
            )?;
            x = self.unary("Relu", &y);
        }
        let x = self.transpose(&x, &[0, 2, 3, 1]); // [B, T', F', C]
        let x = self.reshape(&x, &[0, 0, -1]); // [B, T', F'·C]
        let (states, last) = self.gru(&x, &["gru".to_owned()])?;
        let mut y = self.squeeze(&last, 0); // [B, H]
        for index in 0..layout.dense.len() {
            y = self.linear(&y, &format!("dense.{index}"))?;
            if index > 0 {
                y = self.unary("Relu", &y);
            }
        }
        let logits = self.linear(&y, "classifier")?;
        let attention = self.temporal_query(&states)?;
        Ok(Outputs {
            logits,
            attention,
            heads: None,
        })
    }

    fn att_rnn(&mut self, layout: &AttRnnConfig, features: &str) -> Result<Outputs, ExportError> {
        let axis = self.graph.ints(&[1]);
        let mut x = self.graph.op("Unsqueeze", &[features, &axis], Vec::new()); // [B, 1, T, F]
        let pad = (layout.conv_kernel / 2) as i64;
        for index in 0..layout.conv_channels.len() {
            let y = self.conv(
                &x,
                &format!("convs.{index}"),
                2,
                &[1, 1],
                &[pad, 0, pad, 0],
                true,
            )?;
            let y = self.unary("Tanh", &y);
            x = self.batch_norm(&y, &format!("norms.{index}"))?;
        }
        let mut sequence = self.squeeze(&x, 1); // [B, T, F]: the last conv has 1 channel
        for layer in 0..layout.gru_layers {
            let directions = ["forward", "backward"].map(|d| format!("grus.{layer}.{d}"));
            sequence = self.gru(&sequence, &directions)?.0; // [B, T, 2H]
        }
        let width = (2 * layout.gru_units) as i64;
        let heads = layout.heads as i64;

        let shape = self.unary("Shape", &sequence);
        let time_axis = self.graph.int_scalar(1);
        let frames = self.graph.op(
            "Gather",
            &[&shape, &time_axis],
            vec![("axis", Attribute::Int(0))],
        );
        let two = self.graph.int_scalar(2);
        let middle_index = self.binary("Div", &frames, &two);
        let middle = self.graph.op(
            "Gather",
            &[&sequence, &middle_index],
            vec![("axis", Attribute::Int(1))],
        ); // [B, 2H]
        let queries = self.linear(&middle, "query")?;
        let queries = self.reshape(&queries, &[0, heads, width]); // [B, heads, 2H]
        let keys = self.transpose(&sequence, &[0, 2, 1]); // [B, 2H, T]
        let scores = self.binary("MatMul", &queries, &keys); // [B, heads, T]
        let weights = self
            .graph
            .op("Softmax", &[&scores], vec![("axis", Attribute::Int(2))]);
        let contexts = self.binary("MatMul", &weights, &sequence); // [B, heads, 2H]
        let mut y = self.reshape(&contexts, &[0, heads * width]);
        for index in 0..layout.dense.len() {
            y = self.linear(&y, &format!("dense.{index}"))?;
            if index == 0 {
                y = self.unary("Relu", &y);
            }
        }
        let logits = self.linear(&y, "classifier")?;
        let attention = self.graph.op(
            "ReduceMean",
            &[&weights],
            vec![("axes", ints(&[1])), ("keepdims", Attribute::Int(0))],
        );
        Ok(Outputs {
            logits,
            attention,
            heads: Some(weights),
        })
    }
}
