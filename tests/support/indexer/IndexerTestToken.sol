// SPDX-License-Identifier: MIT
// Test-only event emitter for the indexer tests. NOT a tradenet contract.
pragma solidity ^0.8.20;

contract IndexerTestToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Note(uint256 indexed id, string text, bytes32 tag, int256 delta, address[] parties);

    mapping(address => uint256) public balanceOf;
    uint256 public totalSupply;

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
        totalSupply += value;
        emit Transfer(address(0), to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function burn(uint256 value) external {
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        totalSupply -= value;
        emit Transfer(msg.sender, address(0), value);
    }

    function note(uint256 id, string calldata text, bytes32 tag, int256 delta, address[] calldata parties) external {
        emit Note(id, text, tag, delta, parties);
    }

    /// Emits a log whose topic0 matches no event in this ABI (an "undecodable" log).
    function rawLog(bytes32 topic, bytes calldata data) external {
        bytes memory d = data;
        assembly {
            log1(add(d, 32), mload(d), topic)
        }
    }
}
