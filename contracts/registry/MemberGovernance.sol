// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {NotGovernance} from "../common/Errors.sol";

/// @title M-of-N governance by the consortium's administrators.
/// @notice Any active ADMIN may propose calls (targets + calldata) with an expiry; other admins
/// approve; once `approvalThreshold` distinct admins that are still active have approved, any admin
/// executes it. The governed contracts accept configuration calls only from this contract, so no
/// single key can change membership, operator sets or thresholds. The registry admits at most one
/// ADMIN account per legal entity (LEI), so M and N count organisations, not keys.
/// Before execution an approver may revoke its approval, and the proposer may cancel the proposal.
/// @dev Approvers are re-checked at execution: an admin suspended or removed after approving no
/// longer counts. The approver list of a proposal is bounded by the number of admins.
abstract contract MemberGovernance {
    enum ProposalState {
        None,
        Pending,
        Executed,
        Expired,
        Cancelled
    }

    struct Proposal {
        address proposer;
        uint64 deadline;
        ProposalState state;
        address[] targets;
        bytes[] calls;
        address[] approvers;
    }

    uint64 public constant MIN_PROPOSAL_TTL = 5 minutes;
    uint64 public constant MAX_PROPOSAL_TTL = 30 days;
    /// @notice Never fewer than two approvals: no single key governs the network.
    uint16 public constant MIN_APPROVAL_THRESHOLD = 2;
    /// @notice Most calls one proposal may carry (executed atomically, in order).
    uint256 public constant MAX_PROPOSAL_CALLS = 16;

    uint16 public approvalThreshold;
    uint256 public proposalCount;
    mapping(uint256 id => Proposal) private _proposals;
    mapping(uint256 id => mapping(address admin => bool)) public hasApproved;

    error NotAdmin(address account);
    error NotProposer(uint256 id, address caller);
    error NotApproved(uint256 id, address admin);
    error UnknownProposal(uint256 id);
    error ProposalNotPending(uint256 id, ProposalState state);
    error ProposalDeadlinePassed(uint256 id, uint64 deadline);
    error ProposalStillOpen(uint256 id, uint64 deadline);
    error AlreadyApproved(uint256 id, address admin);
    error QuorumNotReached(uint256 id, uint256 approvals, uint256 threshold);
    error InvalidProposalTtl(uint64 ttl);
    error InvalidApprovalThreshold(uint256 threshold, uint256 activeAdmins);
    error InvalidProposalCalls(uint256 targets, uint256 calls);

    event ProposalCreated(
        uint256 indexed id, address indexed proposer, address[] targets, bytes[] calls, uint64 deadline, string description
    );
    event ProposalApproved(uint256 indexed id, address indexed admin, uint256 approvals);
    event ProposalExecuted(uint256 indexed id, address indexed executor);
    event ProposalLapsed(uint256 indexed id);
    event ProposalCancelled(uint256 indexed id, address indexed proposer);
    event ApprovalRevoked(uint256 indexed id, address indexed admin, uint256 approvals);
    event ApprovalThresholdChanged(uint16 previous, uint16 current);

    modifier onlyAdmin() {
        if (!_isActiveAdmin(msg.sender)) revert NotAdmin(msg.sender);
        _;
    }

    /// @dev Functions reachable only through an executed proposal.
    modifier onlyGovernance() {
        if (msg.sender != address(this)) revert NotGovernance(msg.sender);
        _;
    }

    /// @notice Proposes the calls `targets[i].call(calls[i])`, executed atomically in order; the
    /// proposer's approval is counted at once.
    /// @param targets contracts to call when executed (this registry or other governed contracts)
    /// @param calls ABI-encoded calls, one per target
    /// @param ttl seconds until the proposal lapses
    /// @param description human-readable reason, kept in the event log
    /// @return id the proposal id
    function propose(address[] calldata targets, bytes[] calldata calls, uint64 ttl, string calldata description)
        external
        onlyAdmin
        returns (uint256 id)
    {
        uint256 n = targets.length;
        if (n == 0 || n > MAX_PROPOSAL_CALLS || calls.length != n) revert InvalidProposalCalls(n, calls.length);
        for (uint256 i = 0; i < n; ++i) {
            if (targets[i] == address(0) || calls[i].length < 4) revert InvalidProposalCalls(n, calls.length);
        }
        if (ttl < MIN_PROPOSAL_TTL || ttl > MAX_PROPOSAL_TTL) revert InvalidProposalTtl(ttl);
        id = ++proposalCount;
        Proposal storage p = _proposals[id];
        p.proposer = msg.sender;
        p.deadline = uint64(block.timestamp) + ttl;
        p.state = ProposalState.Pending;
        for (uint256 i = 0; i < n; ++i) {
            p.targets.push(targets[i]);
            p.calls.push(calls[i]);
        }
        emit ProposalCreated(id, msg.sender, targets, calls, p.deadline, description);
        _approve(id, p);
    }

    /// @notice Adds the caller's approval to a pending, unexpired proposal.
    function approve(uint256 id) external onlyAdmin {
        Proposal storage p = _pending(id);
        if (hasApproved[id][msg.sender]) revert AlreadyApproved(id, msg.sender);
        _approve(id, p);
    }

    /// @notice Executes a proposal approved by at least `approvalThreshold` currently active admins.
    /// @dev Reverts with a target's own revert data if any call fails; the proposal stays pending.
    function execute(uint256 id) external onlyAdmin {
        Proposal storage p = _pending(id);
        uint256 valid = validApprovals(id);
        if (valid < approvalThreshold) revert QuorumNotReached(id, valid, approvalThreshold);
        p.state = ProposalState.Executed;
        emit ProposalExecuted(id, msg.sender);
        for (uint256 i = 0; i < p.targets.length; ++i) {
            (bool ok, bytes memory ret) = p.targets[i].call(p.calls[i]);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
    }

    /// @notice Withdraws the caller's approval of a pending proposal before it is executed.
    function revokeApproval(uint256 id) external {
        Proposal storage p = _pending(id);
        if (!hasApproved[id][msg.sender]) revert NotApproved(id, msg.sender);
        hasApproved[id][msg.sender] = false;
        address[] storage approvers = p.approvers;
        uint256 n = approvers.length; // bounded by the admins that ever approved this proposal
        for (uint256 i = 0; i < n; ++i) {
            if (approvers[i] == msg.sender) {
                approvers[i] = approvers[n - 1];
                approvers.pop();
                break;
            }
        }
        emit ApprovalRevoked(id, msg.sender, approvers.length);
    }

    /// @notice The proposer withdraws its pending proposal; it can no longer be approved or executed.
    function cancel(uint256 id) external {
        Proposal storage p = _pending(id);
        if (msg.sender != p.proposer) revert NotProposer(id, msg.sender);
        p.state = ProposalState.Cancelled;
        emit ProposalCancelled(id, msg.sender);
    }

    /// @notice Marks a pending proposal whose deadline passed as expired. Anyone may call.
    function expire(uint256 id) external {
        Proposal storage p = _proposals[id];
        if (p.state == ProposalState.None) revert UnknownProposal(id);
        if (p.state != ProposalState.Pending) revert ProposalNotPending(id, p.state);
        if (block.timestamp <= p.deadline) revert ProposalStillOpen(id, p.deadline);
        p.state = ProposalState.Expired;
        emit ProposalLapsed(id);
    }

    /// @notice Changes M. Only through governance; must stay within [2, active admins].
    function setApprovalThreshold(uint16 threshold) external onlyGovernance {
        _setApprovalThreshold(threshold);
    }

    /// @notice The proposal's parameters and approvers.
    function proposal(uint256 id)
        external
        view
        returns (
            address proposer,
            address[] memory targets,
            bytes[] memory calls,
            uint64 deadline,
            ProposalState state,
            address[] memory approvers
        )
    {
        Proposal storage p = _proposals[id];
        if (p.state == ProposalState.None) revert UnknownProposal(id);
        return (p.proposer, p.targets, p.calls, p.deadline, p.state, p.approvers);
    }

    /// @notice Approvals given by admins that are active now.
    function validApprovals(uint256 id) public view returns (uint256 count) {
        address[] storage approvers = _proposals[id].approvers;
        for (uint256 i = 0; i < approvers.length; ++i) {
            if (_isActiveAdmin(approvers[i])) ++count;
        }
    }

    function _approve(uint256 id, Proposal storage p) private {
        hasApproved[id][msg.sender] = true;
        p.approvers.push(msg.sender);
        emit ProposalApproved(id, msg.sender, p.approvers.length);
    }

    function _pending(uint256 id) private view returns (Proposal storage p) {
        p = _proposals[id];
        if (p.state == ProposalState.None) revert UnknownProposal(id);
        if (p.state != ProposalState.Pending) revert ProposalNotPending(id, p.state);
        if (block.timestamp > p.deadline) revert ProposalDeadlinePassed(id, p.deadline);
    }

    function _setApprovalThreshold(uint16 threshold) internal {
        uint256 admins = _activeAdminCount();
        if (threshold < MIN_APPROVAL_THRESHOLD || threshold > admins) {
            revert InvalidApprovalThreshold(threshold, admins);
        }
        emit ApprovalThresholdChanged(approvalThreshold, threshold);
        approvalThreshold = threshold;
    }

    /// @dev Keeps M reachable after an admin leaves, is suspended or sanctioned.
    function _requireThresholdReachable() internal view {
        uint256 admins = _activeAdminCount();
        if (admins < approvalThreshold) revert InvalidApprovalThreshold(approvalThreshold, admins);
    }

    function _isActiveAdmin(address account) internal view virtual returns (bool);

    function _activeAdminCount() internal view virtual returns (uint256);
}
