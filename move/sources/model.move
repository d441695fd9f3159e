/// A model that requests may name: the digest of its weight file, which
/// executors check before serving it, and the hardware class it runs on.
module atoma::model;

public struct Model has copy, drop, store {
    weight_digest: vector<u8>,
    class_id: u64,
}

public(package) fun new(weight_digest: vector<u8>, class_id: u64): Model {
    Model { weight_digest, class_id }
}

public fun weight_digest(model: &Model): vector<u8> { model.weight_digest }

public fun class_id(model: &Model): u64 { model.class_id }
