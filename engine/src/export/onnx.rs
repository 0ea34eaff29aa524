//! An ONNX graph and its protobuf encoding: the messages and fields an exported student uses,
//! written by hand (a protobuf code generator would need `protoc` at build time for a few dozen
//! fields).
//!
//! Field numbers are those of `onnx.proto` (ModelProto, GraphProto, NodeProto, AttributeProto,
//! TensorProto, ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto,
//! StringStringEntryProto).

/// The IR version of ONNX 1.12, the first release with opset 17.
const IR_VERSION: i64 = 8;
use super::OPSET;

/// TensorProto.DataType
const FLOAT: i64 = 1;
const INT8: i64 = 3;
const INT64: i64 = 7;
const FLOAT16: i64 = 10;
/// The `to` of a Cast to float.
pub const TO_FLOAT: i64 = FLOAT;

/// One dimension of a graph input or output.
#[derive(Clone, Debug)]
pub enum Dim {
    Fixed(usize),
    /// A dimension the runtime fills in (`"batch"`, `"frames"`).
    Named(&'static str),
    /// A dimension left to the runtime to infer (inside a subgraph, where a name would be taken
    /// as a new symbol rather than the outer graph's).
    Unknown,
}

/// A constant tensor stored in the graph.
#[derive(Clone, Debug)]
enum Values {
    Float(Vec<f32>),
    Int64(Vec<i64>),
    Int8(Vec<i8>),
    /// IEEE half-precision bit patterns.
    Float16(Vec<u16>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Float(v) => v.len(),
            Values::Int64(v) => v.len(),
            Values::Int8(v) => v.len(),
            Values::Float16(v) => v.len(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Values::Float(v) => 4 * v.len(),
            Values::Int64(v) => 8 * v.len(),
            Values::Int8(v) => v.len(),
            Values::Float16(v) => 2 * v.len(),
        }
    }
}

#[derive(Clone, Debug)]
struct Initializer {
    name: String,
    dims: Vec<usize>,
    values: Values,
}

/// A node attribute.
#[derive(Clone, Debug)]
pub enum Attribute {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Text(&'static str),
    /// A one-element float tensor (ConstantOfShape's value).
    FloatTensor(f32),
    Graph(Box<Graph>),
}

#[derive(Clone, Debug)]
struct Node {
    op: &'static str,
    name: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    attributes: Vec<(&'static str, Attribute)>,
}

#[derive(Clone, Debug)]
struct ValueInfo {
    name: String,
    dims: Vec<Dim>,
}

/// A graph under construction. Every value gets a fresh name from one counter, so a subgraph
/// built with [`Graph::subgraph`] never shadows a name of its parent.
#[derive(Clone, Debug)]
pub struct Graph {
    name: String,
    prefix: String,
    next: usize,
    nodes: Vec<Node>,
    initializers: Vec<Initializer>,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
}

impl Graph {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            prefix: String::new(),
            next: 0,
            nodes: Vec::new(),
            initializers: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// A graph for a node's attribute (Scan's body) whose names cannot meet this one's.
    pub fn subgraph(&mut self, name: &str) -> Graph {
        self.next += 1;
        let mut graph = Graph::new(name);
        graph.prefix = format!("{}{name}{}/", self.prefix, self.next);
        graph
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{}{hint}_{}", self.prefix, self.next)
    }

    pub fn input(&mut self, name: &str, dims: Vec<Dim>) -> String {
        let name = format!("{}{name}", self.prefix);
        self.inputs.push(ValueInfo {
            name: name.clone(),
            dims,
        });
        name
    }

    /// Makes `value` a graph output called `name` (through an Identity, so a value can be
    /// output twice and under the name the caller chooses).
    pub fn output(&mut self, value: &str, name: &str, dims: Vec<Dim>) {
        let name = format!("{}{name}", self.prefix);
        self.nodes.push(Node {
            op: "Identity",
            name: format!("{name}_out"),
            inputs: vec![value.to_owned()],
            outputs: vec![name.clone()],
            attributes: Vec::new(),
        });
        self.outputs.push(ValueInfo { name, dims });
    }

    /// A constant of shape `dims` (empty: a scalar), which `values` must fill.
    fn constant(&mut self, hint: &str, dims: &[usize], values: Values) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), values.len());
        let name = self.fresh(hint);
        self.initializers.push(Initializer {
            name: name.clone(),
            dims: dims.to_vec(),
            values,
        });
        name
    }

    pub fn floats(&mut self, hint: &str, dims: &[usize], values: Vec<f32>) -> String {
        self.constant(hint, dims, Values::Float(values))
    }

    /// Weights' int8 codes (or a zero point, as a scalar).
    pub fn int8s(&mut self, hint: &str, dims: &[usize], values: Vec<i8>) -> String {
        self.constant(hint, dims, Values::Int8(values))
    }

    /// Half-precision values from their bit patterns.
    pub fn halves(&mut self, hint: &str, dims: &[usize], bits: Vec<u16>) -> String {
        self.constant(hint, dims, Values::Float16(bits))
    }

    pub fn float_scalar(&mut self, hint: &str, value: f32) -> String {
        self.constant(hint, &[], Values::Float(vec![value]))
    }

    /// A one-dimensional int64 constant (shapes, axes, indices).
    pub fn ints(&mut self, values: &[i64]) -> String {
        self.constant("ints", &[values.len()], Values::Int64(values.to_vec()))
    }

    /// An int64 scalar (a Gather index that drops its axis).
    pub fn int_scalar(&mut self, value: i64) -> String {
        self.constant("int", &[], Values::Int64(vec![value]))
    }

    /// A node with one output.
    pub fn op(
        &mut self,
        op: &'static str,
        inputs: &[&str],
        attributes: Vec<(&'static str, Attribute)>,
    ) -> String {
        self.op_outputs(op, inputs, 1, attributes).remove(0)
    }

    /// A node with `outputs` outputs.
    pub fn op_outputs(
        &mut self,
        op: &'static str,
        inputs: &[&str],
        outputs: usize,
        attributes: Vec<(&'static str, Attribute)>,
    ) -> Vec<String> {
        let name = self.fresh(op);
        let outputs: Vec<String> = (0..outputs).map(|i| format!("{name}:{i}")).collect();
        self.nodes.push(Node {
            op,
            name,
            inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
            outputs: outputs.clone(),
            attributes,
        });
        outputs
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for node in &self.nodes {
            message(&mut out, 1, &encode_node(node));
        }
        string(&mut out, 2, &self.name);
        for initializer in &self.initializers {
            message(&mut out, 5, &encode_initializer(initializer));
        }
        for input in &self.inputs {
            message(&mut out, 11, &encode_value_info(input));
        }
        for output in &self.outputs {
            message(&mut out, 12, &encode_value_info(output));
        }
        out
    }

    /// Bytes of the constants stored in this graph and its subgraphs.
    pub fn stored_bytes(&self) -> usize {
        let own: usize = self.initializers.iter().map(|i| i.values.bytes()).sum();
        let nested: usize = self
            .nodes
            .iter()
            .flat_map(|n| &n.attributes)
            .map(|(_, a)| match a {
                Attribute::Graph(g) => g.stored_bytes(),
                _ => 0,
            })
            .sum();
        own + nested
    }
}

/// A whole model file: `graph` with the operator set, the producer and `metadata` (key, value).
pub fn model_bytes(
    graph: &Graph,
    producer_version: &str,
    metadata: &[(String, String)],
) -> Vec<u8> {
    let mut out = Vec::new();
    int(&mut out, 1, IR_VERSION);
    string(&mut out, 2, "tempokd");
    string(&mut out, 3, producer_version);
    message(&mut out, 7, &graph.encode());
    let mut opset = Vec::new();
    string(&mut opset, 1, "");
    int(&mut opset, 2, OPSET);
    message(&mut out, 8, &opset);
    for (key, value) in metadata {
        let mut entry = Vec::new();
        string(&mut entry, 1, key);
        string(&mut entry, 2, value);
        message(&mut out, 14, &entry);
    }
    out
}

fn encode_node(node: &Node) -> Vec<u8> {
    let mut out = Vec::new();
    for input in &node.inputs {
        string(&mut out, 1, input);
    }
    for output in &node.outputs {
        string(&mut out, 2, output);
    }
    string(&mut out, 3, &node.name);
    string(&mut out, 4, node.op);
    for (name, attribute) in &node.attributes {
        message(&mut out, 5, &encode_attribute(name, attribute));
    }
    out
}

/// AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, GRAPH 5, INTS 7.
fn encode_attribute(name: &str, attribute: &Attribute) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 1, name);
    let kind = match attribute {
        Attribute::Float(value) => {
            key(&mut out, 2, 5);
            out.extend_from_slice(&value.to_le_bytes());
            1
        }
        Attribute::Int(value) => {
            int(&mut out, 3, *value);
            2
        }
        Attribute::Text(value) => {
            string(&mut out, 4, value);
            3
        }
        Attribute::FloatTensor(value) => {
            let tensor = Initializer {
                name: String::new(),
                dims: vec![1],
                values: Values::Float(vec![*value]),
            };
            message(&mut out, 5, &encode_initializer(&tensor));
            4
        }
        Attribute::Graph(graph) => {
            message(&mut out, 6, &graph.encode());
            5
        }
        Attribute::Ints(values) => {
            for value in values {
                int(&mut out, 8, *value);
            }
            7
        }
    };
    int(&mut out, 20, kind);
    out
}

fn encode_initializer(initializer: &Initializer) -> Vec<u8> {
    let mut out = Vec::new();
    for &dim in &initializer.dims {
        int(&mut out, 1, dim as i64);
    }
    let (data_type, raw): (i64, Vec<u8>) = match &initializer.values {
        Values::Float(values) => (FLOAT, values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        Values::Int64(values) => (INT64, values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        Values::Int8(values) => (INT8, values.iter().map(|&v| v as u8).collect()),
        Values::Float16(values) => (
            FLOAT16,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
    };
    int(&mut out, 2, data_type);
    string(&mut out, 8, &initializer.name);
    bytes(&mut out, 9, &raw);
    out
}

fn encode_value_info(info: &ValueInfo) -> Vec<u8> {
    let mut shape = Vec::new();
    for dim in &info.dims {
        let mut entry = Vec::new();
        match dim {
            Dim::Fixed(value) => int(&mut entry, 1, *value as i64),
            Dim::Named(name) => string(&mut entry, 2, name),
            Dim::Unknown => {}
        }
        message(&mut shape, 1, &entry);
    }
    let mut tensor = Vec::new();
    int(&mut tensor, 1, FLOAT);
    message(&mut tensor, 2, &shape);
    let mut type_proto = Vec::new();
    message(&mut type_proto, 1, &tensor);
    let mut out = Vec::new();
    string(&mut out, 1, &info.name);
    message(&mut out, 2, &type_proto);
    out
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Wire types: 0 varint, 2 length-delimited, 5 32-bit.
fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

/// A negative value is written as its 64-bit two's complement, as protobuf's int64 is.
fn int(out: &mut Vec<u8>, field: u32, value: i64) {
    key(out, field, 0);
    varint(out, value as u64);
}

fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(out, field, 2);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

fn string(out: &mut Vec<u8>, field: u32, value: &str) {
    bytes(out, field, value.as_bytes());
}

fn message(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    bytes(out, field, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_as_protobuf_writes_them() {
        let encoded = |value: i64| {
            let mut out = Vec::new();
            int(&mut out, 1, value);
            out
        };
        assert_eq!(encoded(1), [0x08, 0x01]);
        assert_eq!(encoded(300), [0x08, 0xac, 0x02]);
        // -1 as a ten-byte two's complement varint.
        assert_eq!(
            encoded(-1),
            [
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]
        );
    }

    #[test]
    fn subgraph_names_never_meet_the_parents() {
        let mut graph = Graph::new("outer");
        let a = graph.op("Relu", &["x"], Vec::new());
        let mut body = graph.subgraph("body");
        let b = body.op("Relu", &["y"], Vec::new());
        let c = graph.op("Relu", &[&a], Vec::new());
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert!(b.starts_with("body"));
    }
}
