// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Validation of the standard codes trade documents carry on chain.
library TradeCodes {
    /// @dev An ISO 4217 currency code is not three upper-case letters.
    error InvalidCurrencyCode(bytes3 code);
    /// @dev A UN/LOCODE is not two upper-case letters followed by three upper-case letters or digits.
    error InvalidLocode(bytes5 code);
    /// @dev An LEI (ISO 17442) is not 20 upper-case letters or digits.
    error InvalidLei(bytes20 lei);
    /// @dev An ISO 3166-1 alpha-2 country code is not two upper-case letters.
    error InvalidCountryCode(bytes2 code);

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

    function _isUpper(bytes1 c) private pure returns (bool) {
        return c >= 0x41 && c <= 0x5A;
    }

    function _isDigit(bytes1 c) private pure returns (bool) {
        return c >= 0x30 && c <= 0x39;
    }
}
