// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {InvalidText} from "./Errors.sol";

/// @title Validation of the standard codes and texts trade documents carry on chain.
library TradeCodes {
    /// @dev An ISO 4217 currency code is not three upper-case letters.
    error InvalidCurrencyCode(bytes3 code);
    /// @dev A UN/LOCODE is not two upper-case letters followed by three upper-case letters or digits.
    error InvalidLocode(bytes5 code);
    /// @dev An LEI (ISO 17442) is not 20 upper-case letters or digits.
    error InvalidLei(bytes20 lei);
    /// @dev An ISO 3166-1 alpha-2 country code is not two upper-case letters.
    error InvalidCountryCode(bytes2 code);
    /// @dev A document reference (invoice or order number) is empty, longer than `maxLength`,
    /// has no letter or digit, or holds a byte outside printable ASCII at `position`.
    error InvalidReference(uint256 length, uint256 maxLength, uint256 position);

    function requireCurrency(bytes3 code) internal pure {
        for (uint256 i = 0; i < 3; ++i) {
            if (!_isUpper(code[i])) revert InvalidCurrencyCode(code);
        }
    }

    function requireLocode(bytes5 code) internal pure {
        if (!_isUpper(code[0]) || !_isUpper(code[1])) revert InvalidLocode(code);
        for (uint256 i = 2; i < 5; ++i) {
            if (!_isUpper(code[i]) && !_isDigit(code[i])) revert InvalidLocode(code);
        }
    }

    function requireLei(bytes20 lei) internal pure {
        for (uint256 i = 0; i < 20; ++i) {
            if (!_isUpper(lei[i]) && !_isDigit(lei[i])) revert InvalidLei(lei);
        }
    }

    function requireCountry(bytes2 code) internal pure {
        if (!_isUpper(code[0]) || !_isUpper(code[1])) revert InvalidCountryCode(code);
    }

    /// @notice Reverts {InvalidText} unless `text` has 1..maxLength bytes and no control byte
    /// (0x00-0x1F, 0x7F). UTF-8 beyond ASCII is allowed (legal names, reasons).
    function requireText(string memory text, uint256 maxLength) internal pure {
        bytes memory b = bytes(text);
        uint256 n = b.length;
        if (n == 0 || n > maxLength) revert InvalidText(n, maxLength);
        for (uint256 i = 0; i < n; ++i) {
            uint8 c = uint8(b[i]);
            if (c < 0x20 || c == 0x7F) revert InvalidText(n, maxLength);
        }
    }

    /// @notice The canonical hash of a document reference (invoice or order number): only letters
    /// and digits count, letters folded to upper case, so `INV-2025-0042`, `inv 2025/0042` and
    /// `Inv.2025.0042` are one reference. Every byte must be printable ASCII (0x20-0x7E): control
    /// bytes and non-ASCII (e.g. a no-break space) revert instead of hiding a duplicate.
    /// @return canonical keccak256 of the canonical form
    function canonicalReference(string calldata ref, uint256 maxLength) internal pure returns (bytes32 canonical) {
        bytes calldata b = bytes(ref);
        uint256 n = b.length;
        if (n == 0 || n > maxLength) revert InvalidReference(n, maxLength, 0);
        bytes memory out = new bytes(n);
        uint256 len;
        for (uint256 i = 0; i < n; ++i) {
            bytes1 c = b[i];
            if (c < 0x20 || c > 0x7E) revert InvalidReference(n, maxLength, i);
            if (c >= 0x61 && c <= 0x7A) {
                out[len++] = bytes1(uint8(c) - 32);
            } else if (_isUpper(c) || _isDigit(c)) {
                out[len++] = c;
            }
        }
        if (len == 0) revert InvalidReference(n, maxLength, n);
        assembly ("memory-safe") {
            canonical := keccak256(add(out, 0x20), len)
        }
    }

    function _isUpper(bytes1 c) private pure returns (bool) {
        return c >= 0x41 && c <= 0x5A;
    }

    function _isDigit(bytes1 c) private pure returns (bool) {
        return c >= 0x30 && c <= 0x39;
    }
}
