// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {TradeCodes} from "../common/TradeCodes.sol";

/// @title A tokenised deposit in one currency (one contract per ISO 4217 currency).
/// @notice Minted by TREASURY against fiat deposits and burned on redemption. Amounts are integers
/// in the currency's minor unit. Transfers are permissioned: between members in good standing, or
/// into / out of tradenet system contracts (escrows); a suspended or KYC-expired member can still
/// pay into an escrow to close a running obligation; nothing reaches a sanctioned member.
contract SettlementToken is ERC20 {
    IParticipantRegistry public immutable registry;
    bytes3 public immutable currencyCode;
    uint8 private immutable _decimals;

    error ZeroAmount();
    error TransferToTokenContract();
    error InvalidDecimals(uint8 decimals);

    event FiatDeposited(address indexed treasury, address indexed to, uint256 amount, bytes32 indexed depositRef);
    event FiatRedeemed(address indexed treasury, uint256 amount, bytes32 indexed redemptionRef);

    /// @param registry_ the participant registry
    /// @param currency ISO 4217 code, e.g. "USD"
    /// @param decimals_ minor-unit exponent of the currency (ISO 4217), e.g. 2 for USD, 0 for JPY
    constructor(IParticipantRegistry registry_, string memory name_, bytes3 currency, uint8 decimals_)
        ERC20(name_, string(abi.encodePacked(currency)))
    {
        TradeCodes.requireCurrency(currency);
        if (decimals_ > 18) revert InvalidDecimals(decimals_);
        registry = registry_;
        currencyCode = currency;
        _decimals = decimals_;
    }

    /// @notice The currency's minor-unit exponent.
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mints `amount` minor units to `to` against a fiat deposit identified by `depositRef`.
    /// @dev Caller must be an active TREASURY member; `to` an active member.
    function mint(address to, uint256 amount, bytes32 depositRef) external {
        registry.requireActive(msg.sender, Roles.TREASURY);
        registry.requireActive(to, 0);
        if (amount == 0) revert ZeroAmount();
        _mint(to, amount);
        emit FiatDeposited(msg.sender, to, amount, depositRef);
    }

    /// @notice Burns `amount` from the treasury's own balance when fiat is paid out.
    function burn(uint256 amount, bytes32 redemptionRef) external {
        registry.requireActive(msg.sender, Roles.TREASURY);
        if (amount == 0) revert ZeroAmount();
        _burn(msg.sender, amount);
        emit FiatRedeemed(msg.sender, amount, redemptionRef);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            if (to == address(this)) revert TransferToTokenContract();
            bool fromSystem = registry.isSystemContract(from);
            bool toSystem = registry.isSystemContract(to);
            if (fromSystem) {
                // escrow pays out: the receiver only has to be allowed to receive
                registry.requireCanReceive(to);
            } else if (toSystem) {
                // paying into an escrow: allowed to close obligations even when suspended
                registry.requireCanReceive(from);
            } else {
                registry.requireActive(from, 0);
                registry.requireActive(to, 0);
            }
        }
        super._update(from, to, value);
    }
}
