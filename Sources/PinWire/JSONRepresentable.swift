import PinJSON

/// A value with one canonical JSON form, shared by the HTTP API and the state store. The forms
/// live here, beside the domain, so that the domain never builds JSON.
public protocol JSONRepresentable {
    var json: JSON { get }
}
