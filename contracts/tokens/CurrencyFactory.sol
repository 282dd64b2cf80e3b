// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {SettlementToken} from "./SettlementToken.sol";

/// @title Deploys the settlement token of a new currency, on a governance decision.
/// @notice A consortium adds a currency with one M-of-N proposal of three calls: {create} here,
/// then the registry's `setNetworkContract(token, Asset)` and `setSettlementToken(currency,
/// token)`, where `token` is {predict}ed before the proposal (CREATE2, salt = the currency code).
contract CurrencyFactory is RegistryBound {
    event CurrencyTokenCreated(bytes3 indexed currency, address indexed token, string name, uint8 decimals);

    constructor(IParticipantRegistry registry_) RegistryBound(registry_) {}

    /// @notice Deploys the settlement token of `currency`. Governance only.
    function create(string calldata name, bytes3 currency, uint8 decimals) external onlyGovernance returns (address token) {
        token = address(new SettlementToken{salt: bytes32(currency)}(registry, name, currency, decimals));
        emit CurrencyTokenCreated(currency, token, name, decimals);
    }

    /// @notice The address {create} will deploy the token of these parameters at.
    function predict(string calldata name, bytes3 currency, uint8 decimals) external view returns (address) {
        bytes memory init =
            abi.encodePacked(type(SettlementToken).creationCode, abi.encode(registry, name, currency, decimals));
        return address(
            uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), bytes32(currency), keccak256(init)))))
        );
    }
}
