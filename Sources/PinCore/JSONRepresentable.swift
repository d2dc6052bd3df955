import PinJSON

/// A core value with one canonical JSON form, shared by the HTTP API and the state store.
public protocol JSONRepresentable {
    var json: JSON { get }
}
