// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {RegistryBound} from "../common/RegistryBound.sol";

/// @title k-of-n EIP-712 signature quorum of oracle operators.
/// @notice Keeps the operator set, the threshold k and the freshness window of one signed feed
/// (logistics events, FX rates). Only consortium governance changes them. A report is accepted
/// when it carries k or more signatures over its EIP-712 digest, every one of them from a
/// distinct current operator that is also an active ORACLE member of the registry.
/// @dev Signatures are strict: any signature that is malformed, from a non-operator, from an
/// operator no longer active in the registry, or repeated makes the whole report revert. The
/// digest binds the domain (name, version, chain id, this contract), so a signature made for
/// another chain or contract recovers to some other address and reverts as {NotOperator}.
/// Malleable (high-s) signatures are rejected by OpenZeppelin's ECDSA.
abstract contract QuorumSigners is EIP712, RegistryBound {
    /// @notice Largest operator set (bounds the signature loop).
    uint256 public constant MAX_OPERATORS = 16;
    /// @notice Smallest k: no single operator confirms anything.
    uint256 public constant MIN_THRESHOLD = 2;
    /// @notice Tolerated clock difference for an observation time slightly ahead of the block.
    uint64 public constant MAX_CLOCK_SKEW = 5 minutes;
    uint64 public constant MIN_STALENESS_WINDOW = 1 minutes;
    uint64 public constant MAX_STALENESS_WINDOW = 30 days;

    address[] private _operators;
    /// @dev 1-based position of an operator in `_operators`; 0 for a non-operator.
    mapping(address operator => uint256 position) private _operatorPosition;
    uint8 private _threshold;
    uint64 private _stalenessWindow;
    /// @notice Incremented on every change of the operator set or the threshold.
    uint64 public operatorSetVersion;

    error InvalidOperatorSet(uint256 operators, uint256 threshold);
    error InvalidOperator(address operator);
    error InvalidStalenessWindow(uint64 window);
    error QuorumNotConfigured();
    error InsufficientSignatures(uint256 provided, uint256 required);
    error TooManySignatures(uint256 provided, uint256 operators);
    error InvalidSignature(uint256 index);
    error NotOperator(address signer);
    error OperatorNotActive(address operator);
    error DuplicateSigner(address signer);
    error StaleReport(uint64 observedAt, uint256 oldestAllowed);
    error FutureReport(uint64 observedAt, uint256 latestAllowed);

    event OperatorsChanged(address[] operators, uint8 threshold, uint64 version);
    event StalenessWindowChanged(uint64 previous, uint64 current);

    /// @param name_ the EIP-712 domain name
    /// @param version_ the EIP-712 domain version (bumped when the signed types change)
    /// @param stalenessWindow_ oldest acceptable observation age, in seconds
    constructor(IParticipantRegistry registry_, string memory name_, string memory version_, uint64 stalenessWindow_)
        EIP712(name_, version_)
        RegistryBound(registry_)
    {
        _setStalenessWindow(stalenessWindow_);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Replaces the operator set and the threshold k. Governance only.
    /// @dev 2 <= k <= n <= MAX_OPERATORS and k > n/2 (a minority of operators can never confirm
    /// alone, and two disjoint quorums cannot sign conflicting reports); every operator must be an
    /// active ORACLE member now.
    /// @param operators_ the new operator addresses, distinct and non-zero
    /// @param threshold_ k, the signatures a report needs
    function setOperators(address[] calldata operators_, uint8 threshold_) external onlyGovernance {
        uint256 n = operators_.length;
        if (n > MAX_OPERATORS) revert InvalidOperatorSet(n, threshold_);
        _requireThreshold(n, threshold_);
        uint256 old = _operators.length;
        for (uint256 i = 0; i < old; ++i) {
            delete _operatorPosition[_operators[i]];
        }
        delete _operators;
        for (uint256 i = 0; i < n; ++i) {
            address op = operators_[i];
            if (op == address(0) || _operatorPosition[op] != 0) revert InvalidOperator(op);
            registry.requireActive(op, Roles.ORACLE);
            _operators.push(op);
            _operatorPosition[op] = i + 1;
        }
        _threshold = threshold_;
        emit OperatorsChanged(operators_, threshold_, ++operatorSetVersion);
    }

    /// @notice Changes k for the current operator set. Governance only; 2 <= k <= n, k > n/2.
    function setThreshold(uint8 threshold_) external onlyGovernance {
        uint256 n = _operators.length;
        _requireThreshold(n, threshold_);
        _threshold = threshold_;
        emit OperatorsChanged(_operators, threshold_, ++operatorSetVersion);
    }

    /// @notice Changes the oldest observation age accepted, in seconds. Governance only.
    function setStalenessWindow(uint64 window) external onlyGovernance {
        _setStalenessWindow(window);
    }

    // ------------------------------------------------------------------ views

    /// @notice The current operators, in configuration order.
    function operators() external view returns (address[] memory) {
        return _operators;
    }

    /// @notice k: signatures from distinct operators a report needs (0 until configured).
    function threshold() external view returns (uint8) {
        return _threshold;
    }

    /// @notice Oldest acceptable observation age, in seconds.
    function stalenessWindow() public view returns (uint64) {
        return _stalenessWindow;
    }

    /// @notice True if `account` is in the current operator set.
    function isOperator(address account) external view returns (bool) {
        return _operatorPosition[account] != 0;
    }

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    /// @dev Verifies a k-of-n quorum over `digest`; returns the signers in signature order.
    function _verifyQuorum(bytes32 digest, bytes[] calldata signatures) internal view returns (address[] memory signers) {
        uint256 k = _threshold;
        if (k == 0) revert QuorumNotConfigured();
        uint256 provided = signatures.length;
        if (provided < k) revert InsufficientSignatures(provided, k);
        if (provided > _operators.length) revert TooManySignatures(provided, _operators.length);
        signers = new address[](provided);
        uint256 seen; // bit p set once the operator at position p signed
        for (uint256 i = 0; i < provided; ++i) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            uint256 position = _operatorPosition[signer];
            if (position == 0) revert NotOperator(signer);
            uint256 bit = 1 << position;
            if (seen & bit != 0) revert DuplicateSigner(signer);
            seen |= bit;
            if (!registry.isActive(signer, Roles.ORACLE)) revert OperatorNotActive(signer);
            signers[i] = signer;
        }
    }

    /// @dev Reverts unless `observedAt` lies in [now - window, now + MAX_CLOCK_SKEW].
    function _requireFresh(uint64 observedAt) internal view {
        uint256 latest = block.timestamp + MAX_CLOCK_SKEW;
        if (observedAt > latest) revert FutureReport(observedAt, latest);
        uint256 window = _stalenessWindow;
        uint256 oldest = block.timestamp > window ? block.timestamp - window : 0;
        if (observedAt < oldest) revert StaleReport(observedAt, oldest);
    }

    function _requireThreshold(uint256 n, uint8 k) private pure {
        if (k < MIN_THRESHOLD || k > n || 2 * uint256(k) <= n) revert InvalidOperatorSet(n, k);
    }

    function _setStalenessWindow(uint64 window) private {
        if (window < MIN_STALENESS_WINDOW || window > MAX_STALENESS_WINDOW) revert InvalidStalenessWindow(window);
        emit StalenessWindowChanged(_stalenessWindow, window);
        _stalenessWindow = window;
    }
}
