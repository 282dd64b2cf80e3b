// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {RegistryBound} from "../common/RegistryBound.sol";
import {ZeroAddress} from "../common/Errors.sol";

/// @title The consortium's validator set: which sealer keys may sign blocks (Clique signers).
/// @notice The network's consensus set is decided here, by M-of-N governance ({add} and {remove}
/// are called by the registry executing an approved proposal), and followed by the consensus
/// engine: each sealer organisation runs a sync service (`tradenet.validator_sync`) that casts
/// the matching `clique_propose` votes on its own node until the Clique signer set equals
/// {validators}. The contract is the decision; the chain's signer set follows it.
///
/// Who a validator is (the decision behind this contract):
/// - a validator is a **sealer key** (an externally owned account) run by a member organisation;
///   the registry has no VALIDATOR role because a sealer is node infrastructure, not a business
///   party: its key sits unlocked on the organisation's node, so it must not also be a member
///   account that holds assets or roles ({SealerIsMember}) and it cannot be a contract;
/// - the organisation is named by one of its active member accounts (any role), the `operator`:
///   the validator is recorded under the organisation's LEI (`registry.leiOf(operator)`);
/// - **one sealer per organisation** ({LeiAlreadyHasValidator}): Clique counts signers, so an
///   organisation with two sealers would have two votes and two slots in the rotation;
/// - the set is never empty ({LastValidator}) and holds at most {MAX_VALIDATORS} sealers.
/// The constructor records the genesis signers (the chain already runs with them); every later
/// change is a governance decision. A suspended or sanctioned organisation's sealer stays until
/// governance removes it: the set changes only by a vote, as the consensus set does.
contract ValidatorSet is RegistryBound {
    /// @notice Largest validator set (bounds the list; Clique's rotation slows as it grows).
    uint256 public constant MAX_VALIDATORS = 32;

    struct Validator {
        bytes20 lei; // the organisation running the sealer (zero: not a validator)
        address operator; // the member account that named the organisation
        uint64 addedAt;
    }

    address[] private _sealers;
    /// @dev 1-based position of a sealer in `_sealers`; 0 for a non-validator.
    mapping(address sealer => uint256 position) private _position;
    mapping(address sealer => Validator) private _validators;
    mapping(bytes20 lei => address sealer) private _sealerOf;
    /// @notice Incremented on every change of the set.
    uint64 public version;

    error AlreadyValidator(address sealer);
    error NotValidator(address sealer);
    error TooManyValidators(uint256 maximum);
    error LastValidator(address sealer);
    error SealerIsMember(address sealer);
    error SealerIsContract(address sealer);
    error LeiAlreadyHasValidator(bytes20 lei, address sealer);
    error LengthMismatch(uint256 sealers, uint256 operators);

    event ValidatorAdded(address indexed sealer, bytes20 indexed lei, address operator, uint64 version);
    event ValidatorRemoved(address indexed sealer, bytes20 indexed lei, uint64 version);

    /// @param sealers the genesis signers (Clique `extraData`), each run by the organisation of
    /// the member account at the same index of `operators`
    constructor(IParticipantRegistry registry_, address[] memory sealers, address[] memory operators)
        RegistryBound(registry_)
    {
        if (sealers.length != operators.length) revert LengthMismatch(sealers.length, operators.length);
        if (sealers.length == 0) revert LastValidator(address(0));
        for (uint256 i; i < sealers.length; ++i) {
            _add(sealers[i], operators[i]);
        }
    }

    /// @notice Adds `sealer`, run by the organisation of the active member `operator`. Governance only.
    function add(address sealer, address operator) external onlyGovernance {
        _add(sealer, operator);
    }

    /// @notice Removes `sealer` from the set (never the last one). Governance only.
    function remove(address sealer) external onlyGovernance {
        uint256 pos = _position[sealer];
        if (pos == 0) revert NotValidator(sealer);
        if (_sealers.length == 1) revert LastValidator(sealer);
        address last = _sealers[_sealers.length - 1];
        _sealers[pos - 1] = last;
        _position[last] = pos;
        _sealers.pop();
        delete _position[sealer];
        bytes20 lei = _validators[sealer].lei;
        delete _validators[sealer];
        delete _sealerOf[lei];
        emit ValidatorRemoved(sealer, lei, ++version);
    }

    /// @notice The current validator set (unordered).
    function validators() external view returns (address[] memory) {
        return _sealers;
    }

    function count() external view returns (uint256) {
        return _sealers.length;
    }

    function isValidator(address sealer) external view returns (bool) {
        return _position[sealer] != 0;
    }

    /// @notice The organisation and operator behind `sealer` (zero LEI for a non-validator).
    function validator(address sealer) external view returns (Validator memory) {
        return _validators[sealer];
    }

    /// @notice The sealer of an organisation (zero if it runs none).
    function sealerOf(bytes20 lei) external view returns (address) {
        return _sealerOf[lei];
    }

    function _add(address sealer, address operator) private {
        if (sealer == address(0) || operator == address(0)) revert ZeroAddress();
        if (_position[sealer] != 0) revert AlreadyValidator(sealer);
        if (_sealers.length >= MAX_VALIDATORS) revert TooManyValidators(MAX_VALIDATORS);
        if (sealer.code.length != 0) revert SealerIsContract(sealer);
        if (registry.isMember(sealer)) revert SealerIsMember(sealer);
        registry.requireActive(operator, 0);
        bytes20 lei = registry.leiOf(operator);
        address existing = _sealerOf[lei];
        if (existing != address(0)) revert LeiAlreadyHasValidator(lei, existing);
        _sealers.push(sealer);
        _position[sealer] = _sealers.length;
        _validators[sealer] = Validator(lei, operator, uint64(block.timestamp));
        _sealerOf[lei] = sealer;
        emit ValidatorAdded(sealer, lei, operator, ++version);
    }
}
