// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @file Errors shared by several tradenet contracts, declared once.

/// @dev A required address is zero.
error ZeroAddress();
/// @dev The caller is not the registry executing an approved M-of-N governance proposal.
error NotGovernance(address caller);
/// @dev An amount is zero or above the contract's maximum.
error InvalidAmount(uint256 amount, uint256 maximum);
/// @dev A free-text field (reason, name) is empty, too long or holds a control character.
error InvalidText(uint256 length, uint256 maxLength);
