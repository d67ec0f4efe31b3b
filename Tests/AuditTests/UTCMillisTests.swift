// UTCMillis: RFC 3339 text against values computed independently with Python's datetime.
import EnclaveTestSupport
import Foundation
import Testing

@testable import Audit

@Suite struct UTCMillisTests {
    /// (milliseconds, text) pairs printed by Python's `datetime` (epoch + timedelta(milliseconds=)).
    static let golden: [(Int64, String)] = [
        (0, "1970-01-01T00:00:00.000Z"), (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_795_923_600_123, "2026-11-29T03:40:00.123Z"), (-1, "1969-12-31T23:59:59.999Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"), (1_234_567_890_987, "2009-02-13T23:31:30.987Z"),
    ]

    @Test func formatsAndParsesGoldenValues() {
        for (value, text) in Self.golden {
            #expect(UTCMillis(value).text == text)
            #expect(UTCMillis(text: text) == UTCMillis(value))
        }
    }

    @Test func roundTripsSeededInstants() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            let value = Int64.random(in: -2_000_000_000_000...250_000_000_000_000, using: &random)
            #expect(UTCMillis(text: UTCMillis(value).text) == UTCMillis(value))
        }
    }

    @Test func rejectsMalformedText() {
        for text in [
            "", "2026-11-29", "2026-02-30T00:00:00.000Z", "2026-11-29T24:00:00.000Z",
            "2026-11-29T03:40:00.123+00:00", "2026-11-29t03:40:00.123Z", "2026-13-01T00:00:00.000Z",
        ] {
            #expect(UTCMillis(text: text) == nil)
        }
    }

    @Test func acceptsDaysAndWholeSecondsForRanges() {
        #expect(UTCMillis(dayOrTime: "2026-11-29")?.text == "2026-11-29T00:00:00.000Z")
        #expect(UTCMillis(dayOrTime: "2026-11-29T03:40:00Z")?.text == "2026-11-29T03:40:00.000Z")
        #expect(UTCMillis(dayOrTime: "yesterday") == nil)
    }

    @Test func roundsDatesToTheNearestMillisecond() {
        #expect(UTCMillis(Date(timeIntervalSince1970: 1.0004)).value == 1000)
        #expect(UTCMillis(Date(timeIntervalSince1970: 1.0006)).value == 1001)
    }
}
