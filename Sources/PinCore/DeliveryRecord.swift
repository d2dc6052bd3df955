import PinJSON

/// One recorded webhook attempt (the delivery log).
package struct DeliveryRecord: Sendable, Equatable {
    package var leaseID: String
    package var json: JSONObject

    package init(
        leaseID: String, json: JSONObject
    ) {
        self.leaseID = leaseID
        self.json = json
    }
}
