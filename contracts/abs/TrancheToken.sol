// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IParticipantRegistry, Roles} from "../interfaces/IParticipantRegistry.sol";
import {RegistryBound} from "../common/RegistryBound.sol";

/// @dev What a tranche token tells its pool before balances move (distribution accounting).
interface ITranchePool {
    function beforeTrancheTransfer(address from, address to, uint256 amount) external;
}

/// @title A tranche of an ABS pool: notes transferable only between INVESTOR members.
/// @notice Minted and burned only by its pool (a registered escrow). Transfers follow the network's
/// transfer rule with the INVESTOR role on both member sides ({IParticipantRegistry-requireTransfer}):
/// between active investors, out of the pool to an investor that is not sanctioned; never from a
/// holder into an escrow (not even back into the pool). Amounts are in
/// the pool currency's minor units (one note unit = one unit of principal). Before any balance
/// changes the pool is told, so that every holder's share of the distributions stays exact.
contract TrancheToken is ERC20, RegistryBound {
    /// @notice The pool that issued this tranche.
    address public immutable pool;
    /// @notice The pool's id in its contract.
    uint256 public immutable poolId;
    uint8 private immutable _decimals;

    error NotPool(address caller);

    constructor(IParticipantRegistry registry_, uint256 poolId_, string memory name_, string memory symbol_, uint8 decimals_)
        ERC20(name_, symbol_)
        RegistryBound(registry_)
    {
        pool = msg.sender;
        poolId = poolId_;
        _decimals = decimals_;
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Pool only: mints notes (at issue, to the pool itself).
    function mint(address to, uint256 amount) external {
        if (msg.sender != pool) revert NotPool(msg.sender);
        _mint(to, amount);
    }

    /// @notice Pool only: burns notes (at close).
    function burn(address from, uint256 amount) external {
        if (msg.sender != pool) revert NotPool(msg.sender);
        _burn(from, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == pool) {
            if (to != address(0)) _requireTransfer(from, to, Roles.INVESTOR);
        } else if (from != address(0) && to != address(0)) {
            // between holders: both active INVESTOR members. Not the generic rule, which lets a
            // member pay into any escrow: notes sent to an escrow (even back to the pool) would be
            // stuck there, their distributions lost to the holder
            registry.requireActivePair(from, Roles.INVESTOR, to, Roles.INVESTOR);
        }
        ITranchePool(pool).beforeTrancheTransfer(from, to, value);
        super._update(from, to, value);
    }
}
